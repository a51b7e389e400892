// Shared Segments: the segments other projects share with this one, Evaluate now, Export,
// and one shared segment's Evaluations and Exports tabs.

import { describe, isAbort } from "./api.js";
import { matchedChart } from "./chart.js";
import { busy, focusOn, h, loading, menuButton, notice, number, plural, replace, stackable, time } from "./dom.js";

const STATUS_TEXT = {
  SUCCEEDED: "Succeeded",
  RUNNING: "Running",
  FAILED: "Failed",
  PENDING: "Pending",
  READY: "Ready",
};
const TRIGGER_TEXT = { manual: "Manual", schedule: "Schedule", export: "Export" };
const FORMAT_TEXT = { csv: "CSV", jsonl: "JSONL" };

function badge(status) {
  return h("span", { class: ["badge", `status-${String(status).toLowerCase()}`], text: STATUS_TEXT[status] ?? status });
}

function errorNotice(error) {
  const { sentence, detail } = describe(error);
  return notice("error", sentence, detail);
}

function sharedUrl(ctx, sharedSegmentId, ...rest) {
  return [`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/shared-segments/${encodeURIComponent(sharedSegmentId)}`, ...rest].join("/");
}

function matchedText(evaluation) {
  if (!evaluation) return "Not evaluated yet";
  if (evaluation.status !== "SUCCEEDED") return STATUS_TEXT[evaluation.status] ?? evaluation.status;
  const counts = `${number(evaluation.matchedProfiles)} of ${plural(evaluation.targetProfiles, "profile")}`;
  return evaluation.reused ? `${counts} (reused)` : counts;
}

// API.md: a scheduled evaluation whose inputs did not change carries `reused: true` (same counts,
// same members, nothing read again). Said in a word, not only a colour.
const REUSED_HELP = "Nothing changed since the evaluation before it, so the schedule kept that result: same counts, same members.";

function reusedMark() {
  return h("span", { class: "badge badge-reused", title: REUSED_HELP, text: "Reused" });
}

function bytes(n) {
  if (typeof n !== "number") return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// POST an evaluation; a 202 RUNNING answer (handed off, API.md "Evaluations") is polled on
// GET .../evaluations/{id} until it ends, the button showing it is still running, and
// `onRunning(evaluation)` is told at once so the screen can show the running evaluation.
// Returns {done, message}: the final evaluation and a notice saying it in words.
export async function evaluateNow(ctx, shared, button, { onRunning } = {}) {
  const done = await busy(button, "Evaluating…", async () => {
    let evaluation = await ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "evaluations"), { method: "POST" });
    if (evaluation.status === "RUNNING") onRunning?.(evaluation);
    let delay = 1000;
    while (evaluation.status === "RUNNING") {
      await ctx.sleep(delay);
      delay = Math.min(delay * 1.5, 5000);
      evaluation = await ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "evaluations", evaluation.evaluationId));
    }
    return evaluation;
  });
  if (done.status === "FAILED") return { done, message: notice("error", `The evaluation of “${shared.name}” failed.`, done.error ? `Details: ${done.error}` : null) };
  return {
    done,
    message: notice("success", `Evaluated “${shared.name}”: ${number(done.matchedProfiles)} of ${plural(done.targetProfiles, "profile")} in ${ctx.project.name} match.`),
  };
}

async function startExport(ctx, shared, format, button) {
  return busy(button, "Exporting…", () => ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "exports"), { method: "POST", body: { format } }));
}

// A file name a person recognises: the segment's name and the export's date (issue 17 item 10).
export function downloadName(name, record) {
  const day = (record.readyAt || record.createdAt || new Date().toISOString()).slice(0, 10);
  const safe = name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ").replace(/\s+/g, " ").trim().slice(0, 100) || "segment";
  return `${safe} ${day}.${record.format === "jsonl" ? "jsonl" : "csv"}`;
}

// ------------------------------------------------------------------ the list

export async function sharedListView(ctx) {
  ctx.title("Shared Segments");
  const list = h("div", { class: "table-wrap" });
  const status = h("div", { class: "page-status", "aria-live": "polite" });
  replace(
    ctx.main,
    h("h1", { text: "Shared Segments" }),
    h("p", {
      class: "lead",
      text: `Segments other projects share with ${ctx.project.name}. Only membership crosses projects: evaluations, exports and messages use ${ctx.project.name}'s own profiles and attributes.`,
    }),
    status,
    list,
  );
  replace(list, loading("Loading shared segments…"));
  const { sharedSegments } = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/shared-segments`);
  if (!sharedSegments.length) {
    replace(list, h("p", { class: "empty", text: `No project shares a segment with ${ctx.project.name} yet.` }));
    return;
  }
  const body = h("tbody");
  for (const shared of [...sharedSegments].sort((a, b) => a.name.localeCompare(b.name))) {
    const lastCell = h("td");
    const showLast = (evaluation) =>
      replace(
        lastCell,
        h("span", { class: "matched", text: matchedText(evaluation) }),
        evaluation ? h("span", { class: "muted small-text" }, " · ", time(evaluation.finishedAt || evaluation.startedAt)) : null,
      );
    showLast(shared.lastEvaluation);
    // The seed's options menu: Export CSV, Export JSONL, Evaluate now (issue 17 item 11).
    const exportAs = async (format, button) => {
      replace(status);
      try {
        await startExport(ctx, shared, format, button);
        ctx.go(ctx.path("shared", shared.sharedSegmentId, "exports"));
      } catch (error) {
        if (isAbort(error)) return;
        replace(status, errorNotice(error));
      }
    };
    const { wrap: options } = menuButton({
      label: "Options",
      ariaLabel: `Options for ${shared.name}`,
      items: [
        { label: "Export CSV", onSelect: (button) => exportAs("csv", button) },
        { label: "Export JSONL", onSelect: (button) => exportAs("jsonl", button) },
        {
          label: "Evaluate now",
          onSelect: async (button) => {
            replace(status);
            try {
              const { done, message } = await evaluateNow(ctx, shared, button, { onRunning: showLast });
              showLast(done);
              message.append(h("p", {}, h("a", { href: ctx.path("shared", shared.sharedSegmentId), text: "See its evaluations" })));
              replace(status, message);
            } catch (error) {
              if (isAbort(error)) return;
              replace(status, errorNotice(error));
            }
          },
        },
      ],
    });
    body.append(
      h(
        "tr",
        { "data-shared-segment": shared.sharedSegmentId },
        h("td", { class: "name-cell" }, h("a", { href: ctx.path("shared", shared.sharedSegmentId), text: shared.name })),
        h("td", {}, h("span", { class: "badge badge-shared", text: shared.sourceProjectName ?? shared.sourceProjectId })),
        h("td", {}, time(shared.sharedAt)),
        lastCell,
        h("td", { class: "actions" }, options),
      ),
    );
  }
  replace(
    list,
    stackable(
      h(
        "table",
        { class: "data" },
        h("caption", { class: "visually-hidden", text: `Segments shared with ${ctx.project.name}` }),
        h("thead", {}, h("tr", {}, ["Name", "From project", "Shared", "Last evaluation", "Actions"].map((c) => h("th", { scope: "col", text: c })))),
        body,
      ),
    ),
  );
}

// ------------------------------------------------------------------ one shared segment

export async function sharedDetailView(ctx, tab) {
  const [sharedSegmentId] = ctx.params;
  replace(ctx.main, loading("Loading the shared segment…"));
  const shared = await ctx.api(sharedUrl(ctx, sharedSegmentId));
  ctx.title(`${shared.name} · ${tab === "exports" ? "Exports" : "Evaluations"}`);
  const body = h("div", { class: "tab-body" });
  const status = h("div", { class: "page-status", "aria-live": "polite" });
  const evaluate = h("button", { type: "button", class: "primary", text: "Evaluate now" });
  const reloaders = {};
  evaluate.addEventListener("click", async () => {
    replace(status);
    try {
      // Handed off (202): the running evaluation shows in the table at once and is polled there.
      const onRunning = () => {
        if (tab !== "evaluations") return;
        replace(status, notice("info", `“${shared.name}” is being evaluated in the background. It shows below as Running until it ends.`));
        reloaders.evaluations?.().catch((error) => {
          if (!isAbort(error)) replace(status, errorNotice(error));
        });
      };
      const { message } = await evaluateNow(ctx, shared, evaluate, { onRunning });
      replace(status, message);
      if (tab === "evaluations") await reloaders.evaluations?.();
    } catch (error) {
      if (isAbort(error)) return;
      replace(status, errorNotice(error));
    }
  });
  const exportAs = async (format, button) => {
    replace(status);
    try {
      const created = await startExport(ctx, shared, format, button);
      replace(status, notice("info", `Export requested (${FORMAT_TEXT[created.format] ?? created.format}). It shows below with its status; the Download link appears when it is ready.`));
      if (tab === "exports") await reloaders.exports?.();
      else ctx.go(ctx.path("shared", shared.sharedSegmentId, "exports"));
    } catch (error) {
      if (isAbort(error)) return;
      replace(status, errorNotice(error));
    }
  };
  const { wrap: exporter } = menuButton({
    label: "Export",
    ariaLabel: `Export ${shared.name}`,
    className: null,
    items: [
      { label: "Export CSV", onSelect: (button) => exportAs("csv", button) },
      { label: "Export JSONL", onSelect: (button) => exportAs("jsonl", button) },
    ],
  });
  replace(
    ctx.main,
    h(
      "nav",
      { class: "breadcrumb", "aria-label": "Breadcrumb" },
      h("a", { href: ctx.path("shared"), text: "Shared Segments" }),
      h("span", { "aria-hidden": "true", text: " › " }),
      shared.name,
    ),
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, h("h1", { text: shared.name }), h("p", { class: "lead" }, `Shared from ${shared.sourceProjectName ?? shared.sourceProjectId} · `, time(shared.sharedAt))), h("div", { class: "actions" }, evaluate, exporter)),
    h("ul", { class: "subtabs" }, [
      h("li", {}, h("a", { href: ctx.path("shared", sharedSegmentId), "aria-current": tab === "evaluations" ? "page" : null, text: "Evaluations" })),
      h("li", {}, h("a", { href: ctx.path("shared", sharedSegmentId, "exports"), "aria-current": tab === "exports" ? "page" : null, text: "Exports" })),
    ]),
    status,
    body,
  );
  if (tab === "exports") await exportsTab(ctx, shared, body, reloaders);
  else await evaluationsTab(ctx, shared, body, reloaders);
}

async function evaluationsTab(ctx, shared, body, reloaders) {
  const chart = h("div", { class: "chart-wrap" });
  const table = h("div", { class: "table-wrap" });
  const legend = h("p", { class: "muted small-text", hidden: true }, h("strong", { text: "Reused: " }), REUSED_HELP);
  replace(body, h("h2", { text: "Evaluations" }), chart, table, legend);
  // RUNNING evaluations, polled one by one on GET .../evaluations/{id} (API.md) until they end.
  const watching = new Set();
  let polling = false;

  async function render() {
    if (!table.firstChild) replace(table, loading("Loading evaluations…"));
    const { evaluations } = await ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "evaluations"), { query: { limit: 100 } });
    // Drawn at the box's own width, so its labels keep their size on a phone (issue 17 item 6).
    replace(chart, matchedChart(evaluations, chart.clientWidth));
    legend.hidden = !evaluations.some((e) => e.reused);
    if (!evaluations.length) {
      replace(table, h("p", { class: "empty", text: "No evaluations yet. Evaluate now, or wait for the schedule." }));
    } else {
      replace(
        table,
        stackable(h(
          "table",
          { class: "data" },
          h("caption", { class: "visually-hidden", text: `Evaluations of ${shared.name}, newest first` }),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Time", "Trigger", "Status", "Matched profiles", "iOS devices", "Android devices", "Duration"].map((c) =>
                h("th", { scope: "col", class: /devices|Matched|Duration/.test(c) ? "num" : null, text: c }),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            evaluations.map((e) =>
              h(
                "tr",
                { "data-evaluation": e.evaluationId, "data-status": e.status },
                h("td", {}, time(e.finishedAt || e.startedAt)),
                h("td", { text: TRIGGER_TEXT[e.trigger] ?? e.trigger }),
                h(
                  "td",
                  { class: "status-cell" },
                  badge(e.status),
                  e.reused ? [" ", reusedMark()] : null,
                  e.status === "RUNNING" ? h("span", { class: "loading-inline" }, " ", h("span", { class: "spinner", "aria-hidden": "true" }), "updates when it ends") : null,
                  e.error ? h("span", { class: "muted small-text", text: ` ${e.error}` }) : null,
                ),
                h("td", { class: "num", text: e.status === "SUCCEEDED" ? `${number(e.matchedProfiles)} of ${number(e.targetProfiles)}` : "—" }),
                h("td", { class: "num", text: number(e.matchedByPlatform?.ios ?? (e.status === "SUCCEEDED" ? 0 : null)) }),
                h("td", { class: "num", text: number(e.matchedByPlatform?.android ?? (e.status === "SUCCEEDED" ? 0 : null)) }),
                h("td", { class: "num", text: typeof e.durationMs === "number" ? `${(e.durationMs / 1000).toFixed(1)} s` : "—" }),
              ),
            ),
          ),
        )),
      );
    }
    for (const e of evaluations) if (e.status === "RUNNING") watching.add(e.evaluationId);
  }

  async function poll() {
    if (polling) return;
    polling = true;
    let delay = 1000;
    try {
      while (watching.size) {
        await ctx.sleep(delay);
        delay = Math.min(delay * 1.5, 5000);
        const now = await Promise.all([...watching].map((id) => ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "evaluations", id))));
        const ended = now.filter((e) => e.status !== "RUNNING");
        for (const e of ended) watching.delete(e.evaluationId);
        if (ended.length) await render(); // the ended rows and the chart, in place: no page reload
      }
    } catch (error) {
      if (!isAbort(error)) table.after(errorNotice(error));
    } finally {
      polling = false;
    }
  }

  // Renders the list; polling whatever is RUNNING goes on in the background.
  async function load() {
    await render();
    poll();
  }
  reloaders.evaluations = load;
  await load();
}

async function exportsTab(ctx, shared, body, reloaders) {
  const table = h("div", { class: "table-wrap" });
  const live = h("div", { class: "visually-hidden", "aria-live": "polite" });
  replace(body, h("h2", { text: "Exports" }), h("p", { class: "muted", text: `Each export evaluates the segment afresh and holds ${ctx.project.name}'s own matched profiles. Download links are valid for 15 minutes.` }), table, live);
  const rows = new Map();
  const watching = new Set();
  let polling = false;
  let delay = 700;

  async function downloadLink(record) {
    const link = h("a", {
      class: "button small primary",
      href: record.downloadUrl,
      download: downloadName(shared.name, record),
      text: "Download",
      "aria-label": `Download the ${FORMAT_TEXT[record.format] ?? record.format} export`,
    });
    link.addEventListener("click", async (event) => {
      if (record.expiresAt && Date.parse(record.expiresAt) > Date.now() + 5000) return;
      // The presigned URL has expired: ask for a fresh one.
      event.preventDefault();
      try {
        const fresh = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/exports/${encodeURIComponent(record.exportId)}`);
        record.expiresAt = fresh.expiresAt;
        link.href = fresh.downloadUrl;
        location.assign(fresh.downloadUrl);
      } catch (error) {
        if (!isAbort(error)) link.after(errorNotice(error));
      }
    });
    return link;
  }

  async function fill(record) {
    const row = rows.get(record.exportId);
    if (!row) return;
    replace(row.status, badge(record.status), record.status === "FAILED" && record.error ? h("span", { class: "muted small-text", text: ` ${record.error}` }) : null);
    row.rows.textContent = typeof record.rowCount === "number" ? number(record.rowCount) : "—";
    row.size.textContent = bytes(record.bytes);
    if (record.status === "READY" && record.downloadUrl) replace(row.download, await downloadLink(record));
    else if (record.status === "FAILED") replace(row.download, h("span", { class: "muted", text: "No file" }));
    else replace(row.download, h("span", { class: "loading-inline" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Preparing…"));
  }

  function exportUrl(id) {
    return `/v1/projects/${encodeURIComponent(ctx.project.projectId)}/exports/${encodeURIComponent(id)}`;
  }

  async function load() {
    if (!table.firstChild) replace(table, loading("Loading exports…"));
    const { exports } = await ctx.api(sharedUrl(ctx, shared.sharedSegmentId, "exports"), { query: { limit: 20 } });
    rows.clear();
    if (!exports.length) {
      replace(table, h("p", { class: "empty", text: "No exports yet. Choose Export above, then CSV or JSONL." }));
      return;
    }
    const tbody = h("tbody");
    for (const record of exports) {
      const row = { status: h("td"), rows: h("td", { class: "num" }), size: h("td", { class: "num" }), download: h("td") };
      rows.set(record.exportId, row);
      tbody.append(
        h("tr", { "data-export": record.exportId }, h("td", {}, time(record.createdAt)), h("td", { text: FORMAT_TEXT[record.format] ?? record.format }), row.status, row.rows, row.size, row.download),
      );
    }
    replace(
      table,
      stackable(
        h(
          "table",
          { class: "data" },
          h("caption", { class: "visually-hidden", text: `Exports of ${shared.name}, newest first` }),
          h("thead", {}, h("tr", {}, ["Requested", "Format", "Status", "Rows", "Size", "File"].map((c) => h("th", { scope: "col", class: c === "Rows" || c === "Size" ? "num" : null, text: c })))),
          tbody,
        ),
      ),
    );
    // The listing carries no download URL: a READY export's own record does (a fresh presigned GET).
    const ready = await Promise.all(exports.map((r) => (r.status === "READY" ? ctx.api(exportUrl(r.exportId)) : r)));
    await Promise.all(ready.map(fill));
    for (const record of ready) if (record.status === "PENDING" || record.status === "RUNNING") watching.add(record.exportId);
    delay = 700; // a new export is looked at soon, even while an older one is polled slowly
    poll();
  }

  // Poll unfinished exports until each is READY or FAILED (or the screen is left).
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      while (watching.size) {
        await ctx.sleep(delay);
        delay = Math.min(delay * 1.5, 5000);
        const records = await Promise.all([...watching].map((id) => ctx.api(exportUrl(id))));
        for (const record of records) {
          await fill(record);
          if (record.status === "PENDING" || record.status === "RUNNING") continue;
          watching.delete(record.exportId);
          live.textContent = record.status === "READY" ? `Export ready: ${plural(record.rowCount ?? 0, "row")}.` : "An export failed.";
        }
      }
    } catch (error) {
      if (!isAbort(error)) table.after(errorNotice(error));
    } finally {
      polling = false;
    }
  }

  reloaders.exports = load;
  await load();
}
