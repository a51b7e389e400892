// Imports (API.md "Bulk import"): pick a JSONL or CSV file, POST .../imports, PUT the file to the
// presigned URL it answers, poll GET .../imports/{importId} until it ends, then the counts and the
// errors file; and the project's imports, newest first.

import { describe, isAbort } from "./api.js";
import { busy, focusOn, h, loading, notice, number, plural, replace, stackable, time, uniqueId } from "./dom.js";
import { profilesHeader } from "./profiles.js";

const STATUS_TEXT = { WAITING_FOR_UPLOAD: "Waiting for the file", RUNNING: "Running", SUCCEEDED: "Succeeded", FAILED: "Failed" };
const FORMAT_TEXT = { csv: "CSV", jsonl: "JSONL" };
// What the file is sent as (the service reads the format from the import, not from this).
const CONTENT_TYPES = { csv: "text/csv; charset=utf-8", jsonl: "application/x-ndjson" };
// A presigned link lives 15 minutes (API.md); older than this, ask for a fresh one before using it.
const LINK_FRESH_MS = 14 * 60 * 1000;

function badge(status) {
  return h("span", { class: ["badge", `status-${status === "WAITING_FOR_UPLOAD" ? "pending" : String(status).toLowerCase()}`], text: STATUS_TEXT[status] ?? status });
}

function errorNotice(error) {
  const { sentence, detail } = describe(error);
  return notice("error", sentence, detail);
}

// The format a file name suggests: .csv is CSV, .jsonl/.ndjson/.json is JSONL; null when unknown.
export function formatOf(fileName) {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (/\.(jsonl|ndjson|json)$/.test(lower)) return "jsonl";
  return null;
}

function countsText(record) {
  return `${plural(record.rows ?? 0, "row")} read, ${plural(record.upserted ?? 0, "profile")} upserted, ${plural(record.rejected ?? 0, "row")} rejected`;
}

export async function importsView(ctx) {
  ctx.title("Imports");
  const importsUrl = `/v1/projects/${encodeURIComponent(ctx.project.projectId)}/imports`;
  const fileId = uniqueId("import-file");
  const formatId = uniqueId("import-format");
  const file = h("input", { type: "file", id: fileId, accept: ".jsonl,.ndjson,.json,.csv,text/csv,application/x-ndjson", "aria-describedby": `${fileId}-hint` });
  const format = h(
    "select",
    { id: formatId },
    h("option", { value: "jsonl", text: "JSONL (one profile a line)" }),
    h("option", { value: "csv", text: "CSV (header row)" }),
  );
  const start = h("button", { type: "submit", class: "primary", text: "Upload and import" });
  const progress = h("div", { class: "import-progress", "aria-live": "polite" });
  const table = h("div", { class: "table-wrap" });
  file.addEventListener("change", () => {
    file.removeAttribute("aria-invalid");
    const guessed = file.files?.[0] ? formatOf(file.files[0].name) : null;
    if (guessed) format.value = guessed;
  });
  const form = h(
    "form",
    { class: "panel import-form", "aria-labelledby": "import-title", novalidate: true },
    h("h2", { id: "import-title", text: "Import profiles" }),
    h(
      "p",
      { id: `${fileId}-hint`, class: "hint" },
      "Each row adds a profile or replaces it whole, as the API's upsert does. JSONL: one profile object a line. ",
      "CSV (UTF-8, header row): profileId, then ios and android (several ids separated by |), then one column per attribute. ",
      "Rejected rows are listed in an errors file; the rest still land.",
    ),
    h("div", { class: "field" }, h("label", { for: fileId, text: "File to import" }), file),
    h("div", { class: "field narrow-ish" }, h("label", { for: formatId, text: "Format" }), format),
    h("div", { class: "actions" }, start),
  );
  replace(ctx.main, ...profilesHeader(ctx, "imports"), form, progress, h("h2", { id: "imports-title", text: "Imports" }), table);

  const watching = new Set();
  const rows = new Map();
  let polling = false;

  function errorsLink(record) {
    let fetchedAt = Date.now();
    const link = h("a", {
      class: "button small",
      href: record.errorsUrl,
      text: `Download the errors file (${plural(record.rejected, "row")})`,
    });
    link.addEventListener("click", async (event) => {
      if (Date.now() - fetchedAt < LINK_FRESH_MS) return;
      // The presigned link has expired: ask for a fresh one.
      event.preventDefault();
      try {
        const fresh = await ctx.api(`${importsUrl}/${encodeURIComponent(record.importId)}`);
        fetchedAt = Date.now();
        link.href = fresh.errorsUrl;
        location.assign(fresh.errorsUrl);
      } catch (error) {
        if (!isAbort(error)) link.after(errorNotice(error));
      }
    });
    return link;
  }

  function fill(record) {
    const row = rows.get(record.importId);
    if (!row) return;
    replace(row.status, badge(record.status), record.status === "FAILED" && record.error ? h("span", { class: "muted small-text", text: ` ${record.error}` }) : null);
    const done = record.status === "SUCCEEDED";
    row.rows.textContent = done ? number(record.rows) : "—";
    row.upserted.textContent = done ? number(record.upserted) : "—";
    row.rejected.textContent = done ? number(record.rejected) : "—";
    if (done && record.rejected > 0 && record.errorsUrl) replace(row.errors, errorsLink(record));
    else if (done) replace(row.errors, h("span", { class: "muted", text: "No rejected rows" }));
    else if (record.status === "FAILED") replace(row.errors, h("span", { class: "muted", text: "No file" }));
    else replace(row.errors, h("span", { class: "loading-inline" }, h("span", { class: "spinner", "aria-hidden": "true" }), STATUS_TEXT[record.status]));
  }

  async function load() {
    if (!table.firstChild) replace(table, loading("Loading imports…"));
    const { imports } = await ctx.api(importsUrl, { query: { limit: 20 } });
    rows.clear();
    if (!imports.length) {
      replace(table, h("p", { class: "empty", text: `No imports into ${ctx.project.name} yet.` }));
      return;
    }
    const tbody = h("tbody");
    for (const record of imports) {
      const row = { status: h("td"), rows: h("td", { class: "num" }), upserted: h("td", { class: "num" }), rejected: h("td", { class: "num" }), errors: h("td") };
      rows.set(record.importId, row);
      tbody.append(h("tr", { "data-import": record.importId }, h("td", {}, time(record.createdAt)), h("td", { text: FORMAT_TEXT[record.format] ?? record.format }), row.status, row.rows, row.upserted, row.rejected, row.errors));
    }
    replace(
      table,
      stackable(
        h(
          "table",
          { class: "data", "aria-labelledby": "imports-title" },
          h("caption", { class: "visually-hidden", text: `Imports into ${ctx.project.name}, newest first` }),
          h("thead", {}, h("tr", {}, ["Started", "Format", "Status", "Rows", "Upserted", "Rejected", "Errors"].map((c) => h("th", { scope: "col", class: ["Rows", "Upserted", "Rejected"].includes(c) ? "num" : null, text: c })))),
          tbody,
        ),
      ),
    );
    // The listing carries no errors link: a finished import's own record does (a fresh presigned GET).
    const read = await Promise.all(imports.map((r) => (r.status === "SUCCEEDED" && r.rejected > 0 ? ctx.api(`${importsUrl}/${encodeURIComponent(r.importId)}`) : r)));
    read.forEach(fill);
    for (const record of read) if (record.status === "RUNNING") watching.add(record.importId);
    poll();
  }

  // Poll running imports until each ends (or the screen is left); `onEnd` hears of each one.
  const listeners = new Map();
  async function poll() {
    if (polling) return;
    polling = true;
    let delay = 700;
    try {
      while (watching.size) {
        await ctx.sleep(delay);
        delay = Math.min(delay * 1.5, 5000);
        const records = await Promise.all([...watching].map((id) => ctx.api(`${importsUrl}/${encodeURIComponent(id)}`)));
        for (const record of records) {
          fill(record);
          listeners.get(record.importId)?.(record);
          if (record.status === "RUNNING" || record.status === "WAITING_FOR_UPLOAD") continue;
          watching.delete(record.importId);
          listeners.delete(record.importId);
        }
      }
    } catch (error) {
      if (!isAbort(error)) table.after(errorNotice(error));
    } finally {
      polling = false;
    }
  }

  function showProgress(name, record) {
    if (record.status === "SUCCEEDED") {
      const shown = notice(record.rejected ? "warning" : "success", `Imported “${name}”: ${countsText(record)}.`);
      if (record.rejected > 0 && record.errorsUrl) shown.append(h("p", {}, errorsLink(record)));
      replace(progress, shown);
    } else if (record.status === "FAILED") {
      replace(progress, notice("error", `The import of “${name}” failed.`, record.error ? `Details: ${record.error}` : null));
    } else {
      replace(progress, h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), `Importing “${name}”: ${STATUS_TEXT[record.status] ?? record.status}…`));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) {
      file.setAttribute("aria-invalid", "true");
      replace(progress, notice("error", "Choose a JSONL or CSV file to import."));
      focusOn(file);
      return;
    }
    replace(progress);
    try {
      // True once the file is uploaded; a failed upload keeps the chosen file for another try.
      const sent = await busy(start, "Uploading…", async () => {
        const started = await ctx.api(importsUrl, { method: "POST", body: { format: format.value } });
        replace(progress, h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), `Uploading “${chosen.name}” (${number(chosen.size)} bytes)…`));
        let uploaded;
        try {
          uploaded = await fetch(started.uploadUrl, { method: "PUT", body: chosen, headers: { "Content-Type": CONTENT_TYPES[format.value] }, signal: ctx.signal, credentials: "omit" });
        } catch (error) {
          if (isAbort(error)) throw error;
          uploaded = null;
        }
        if (!uploaded?.ok) {
          replace(progress, notice("error", `“${chosen.name}” could not be uploaded. Check your connection and try again.`, uploaded ? `Details: storage answered ${uploaded.status}` : null));
          return false;
        }
        showProgress(chosen.name, { status: "RUNNING" });
        listeners.set(started.importId, (record) => showProgress(chosen.name, record));
        watching.add(started.importId);
        await load();
        return true;
      });
      if (sent) form.reset();
    } catch (error) {
      if (isAbort(error)) return;
      replace(progress, errorNotice(error));
    }
  });

  await load();
}
