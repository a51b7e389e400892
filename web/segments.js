// Segments: the project's own segments and those shared into it, the rule builder, the delete
// guard, and a segment's Overview and Sharing tabs.

import { describe, isAbort } from "./api.js";
import { busy, h, loading, notice, plural, replace, time, uniqueId } from "./dom.js";

const OPERATORS = [
  ["eq", "equals"],
  ["neq", "does not equal"],
  ["in", "is one of"],
  ["nin", "is none of"],
  ["gt", "is greater than"],
  ["gte", "is at least"],
  ["lt", "is less than"],
  ["lte", "is at most"],
  ["contains", "contains"],
  ["exists", "is set"],
  ["not_exists", "is not set"],
  ["platform", "has a device on platform"],
];
const OPERATOR_TEXT = Object.fromEntries(OPERATORS);
const NO_VALUE = new Set(["exists", "not_exists"]);
const LISTS = new Set(["in", "nin"]);

// A message for the list to show once, after a screen that navigated to it (e.g. a delete).
let flash = null;

function errorNotice(error) {
  const { sentence, detail } = describe(error);
  return notice("error", sentence, detail);
}

function segmentUrl(ctx, segmentId, ...rest) {
  return [`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/segments/${encodeURIComponent(segmentId)}`, ...rest].join("/");
}

// ------------------------------------------------------------------ rules in words

function quoted(value) {
  return typeof value === "string" ? `"${value}"` : String(value);
}

function describeCondition(condition) {
  if (condition.all || condition.any) return `(${describeRule(condition)})`;
  if (condition.platform) return `has a device on ${condition.platform}`;
  const op = OPERATOR_TEXT[condition.op] ?? condition.op;
  if (NO_VALUE.has(condition.op)) return `${condition.attribute} ${op}`;
  const value = Array.isArray(condition.value) ? condition.value.map(quoted).join(", ") : quoted(condition.value);
  return `${condition.attribute} ${op} ${value}`;
}

export function describeRule(rule) {
  const key = rule.all ? "all" : "any";
  const parts = (rule[key] ?? []).map(describeCondition);
  if (parts.length === 0) return key === "all" ? "every profile" : "no profile";
  if (parts.length === 1) return parts[0];
  return `${key === "all" ? "all of" : "any of"}: ${parts.join("; ")}`;
}

// Numbers typed into a value box are compared as numbers (the demo's `level` is a number).
function scalar(text) {
  const trimmed = text.trim();
  return /^-?(0|[1-9]\d*)(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

// ------------------------------------------------------------------ the list

export async function segmentsView(ctx) {
  ctx.title("Segments");
  const list = h("div", { class: "table-wrap" });
  const status = h("div", { class: "page-status", "aria-live": "polite" });
  replace(
    ctx.main,
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", { text: "Segments" }), h("p", { class: "lead", text: `${ctx.project.name}: its own segments and those other projects share with it.` })),
    ),
    ruleBuilder(ctx, async (created) => {
      replace(
        status,
        notice("success", `Created “${created.name}”.`, null),
      );
      status.firstChild.append(h("p", {}, h("a", { href: ctx.path("segments", created.segmentId, "sharing"), text: "Open its Sharing tab" })));
      await load();
    }),
    status,
    h("h2", { text: "All segments" }),
    list,
  );
  if (flash) {
    replace(status, notice("success", flash));
    flash = null;
  }

  async function load() {
    replace(list, loading("Loading segments…"));
    const { segments } = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/segments`);
    const byName = (a, b) => a.name.localeCompare(b.name);
    const own = segments.filter((s) => s.origin === "own").sort(byName);
    const shared = segments.filter((s) => s.origin === "shared").sort(byName);
    if (own.length + shared.length === 0) {
      replace(list, h("p", { class: "empty", text: "No segments yet. Create one above." }));
      return;
    }
    const body = h("tbody");
    for (const segment of [...own, ...shared]) body.append(segmentRow(segment));
    replace(
      list,
      h(
        "table",
        { class: "data" },
        h("caption", { class: "visually-hidden", text: `Segments of ${ctx.project.name}` }),
        h(
          "thead",
          {},
          h("tr", {}, ["Name", "Origin", "Kind", "Shared with", "Created or shared", "Actions"].map((c) => h("th", { scope: "col", text: c }))),
        ),
        body,
      ),
    );
  }

  function segmentRow(segment) {
    const isOwn = segment.origin === "own";
    const row = h("tr", { "data-segment": segment.segmentId });
    const actions = h("td", { class: "actions" });
    if (isOwn) {
      const remove = h("button", { type: "button", class: "small danger-outline", text: "Delete", "aria-label": `Delete ${segment.name}` });
      remove.addEventListener("click", () => {
        const open = row.nextElementSibling?.classList.contains("row-panel") ? row.nextElementSibling : null;
        if (open) {
          open.remove();
          return;
        }
        const cell = h("td", { colspan: "6" });
        const panelRow = h("tr", { class: "row-panel" }, cell);
        cell.append(
          deletePanel(ctx, segment, {
            onDeleted: async () => {
              replace(status, notice("success", `Deleted “${segment.name}”.`));
              await load();
            },
            onCancel: () => {
              panelRow.remove();
              remove.focus();
            },
          }),
        );
        row.after(panelRow);
      });
      actions.append(
        h("a", { class: "button small", href: ctx.path("segments", segment.segmentId, "sharing"), text: "Sharing", "aria-label": `Sharing of ${segment.name}` }),
        remove,
      );
    } else {
      actions.append(
        h("a", { class: "button small", href: ctx.path("shared", segment.segmentId), text: "Evaluations", "aria-label": `Evaluations of ${segment.name}` }),
      );
    }
    row.append(
      h("td", {}, h("a", { href: isOwn ? ctx.path("segments", segment.segmentId) : ctx.path("shared", segment.segmentId), text: segment.name })),
      h(
        "td",
        {},
        isOwn
          ? h("span", { class: "badge badge-own", text: "Own" })
          : h("span", { class: "badge badge-shared", text: `Shared from ${segment.sourceProjectName ?? segment.sourceProjectId}` }),
      ),
      h("td", { text: isOwn ? (segment.kind === "static" ? "Static list" : "Rule") : "—" }),
      h("td", { text: isOwn ? (segment.sharedWithCount ? plural(segment.sharedWithCount, "project") : "Not shared") : "—" }),
      h("td", {}, time(isOwn ? segment.createdAt : segment.sharedAt)),
      actions,
    );
    return row;
  }

  await load();
}

// ------------------------------------------------------------------ rule builder

function ruleBuilder(ctx, onCreated) {
  const formId = uniqueId("create");
  const name = h("input", { id: `${formId}-name`, type: "text", required: true, maxlength: "200", autocomplete: "off" });
  const match = h(
    "select",
    { id: `${formId}-match` },
    h("option", { value: "all", text: "all of the conditions" }),
    h("option", { value: "any", text: "any of the conditions" }),
  );
  const conditions = h("div", { class: "conditions" });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary", text: "Create segment" });
  const rows = [];

  function renumber() {
    rows.forEach((row, i) => {
      row.el.setAttribute("aria-label", `Condition ${i + 1}`);
      row.remove.setAttribute("aria-label", `Remove condition ${i + 1}`);
      row.remove.disabled = rows.length === 1;
    });
  }

  function addCondition() {
    const id = uniqueId("cond");
    const attribute = h("input", { id: `${id}-attr`, type: "text", placeholder: "e.g. country", autocomplete: "off", spellcheck: "false" });
    const op = h("select", { id: `${id}-op` }, OPERATORS.map(([value, text]) => h("option", { value, text })));
    const value = h("input", { id: `${id}-value`, type: "text", placeholder: "e.g. IE", autocomplete: "off" });
    const remove = h("button", { type: "button", class: "small ghost-dark", text: "Remove" });
    const el = h(
      "div",
      { class: "condition", role: "group" },
      h("div", { class: "field" }, h("label", { for: attribute.id, text: "Attribute" }), attribute),
      h("div", { class: "field" }, h("label", { for: op.id, text: "Operator" }), op),
      h("div", { class: "field" }, h("label", { for: value.id, text: "Value" }), value),
      remove,
    );
    const row = { el, attribute, op, value, remove };
    op.addEventListener("change", () => {
      const platform = op.value === "platform";
      attribute.disabled = platform;
      value.disabled = NO_VALUE.has(op.value);
      value.placeholder = platform ? "ios or android" : LISTS.has(op.value) ? "IE, DE, FR" : "e.g. IE";
    });
    remove.addEventListener("click", () => {
      rows.splice(rows.indexOf(row), 1);
      el.remove();
      renumber();
      rows[0]?.attribute.focus();
    });
    rows.push(row);
    conditions.append(el);
    renumber();
    return row;
  }

  function readRule() {
    const list = rows.map((row, i) => {
      const where = `Condition ${i + 1}`;
      const op = row.op.value;
      const text = row.value.value.trim();
      if (op === "platform") {
        if (text !== "ios" && text !== "android") throw new Error(`${where}: the platform is ios or android.`);
        return { platform: text };
      }
      const attribute = row.attribute.value.trim();
      if (!attribute) throw new Error(`${where}: name the attribute.`);
      if (NO_VALUE.has(op)) return { attribute, op };
      if (!text) throw new Error(`${where}: enter a value.`);
      if (LISTS.has(op)) return { attribute, op, value: text.split(",").map(scalar).filter((v) => v !== "") };
      return { attribute, op, value: scalar(text) };
    });
    return { [match.value]: list };
  }

  const form = h(
    "form",
    { class: "rule-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: name.id, text: "Name" }), name),
    h("div", { class: "field" }, h("label", { for: match.id, text: "Profiles must match" }), match),
    h("fieldset", {}, h("legend", { text: "Conditions" }), conditions, h("button", { type: "button", class: "small", text: "Add condition", onclick: () => addCondition().attribute.focus() })),
    h("p", { class: "hint", text: "Numbers are compared as numbers. For “is one of”, separate the values with commas." }),
    h("div", { class: "actions" }, submit),
    status,
  );
  addCondition();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(status);
    if (!name.value.trim()) {
      replace(status, notice("error", "Give the segment a name."));
      name.focus();
      return;
    }
    let rule;
    try {
      rule = readRule();
    } catch (error) {
      replace(status, notice("error", error.message));
      return;
    }
    try {
      const created = await busy(submit, "Creating…", () =>
        ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/segments`, { method: "POST", body: { name: name.value.trim(), rule } }),
      );
      name.value = "";
      for (const row of rows.slice(1)) row.el.remove();
      rows.splice(1);
      rows[0].attribute.value = "";
      rows[0].value.value = "";
      renumber();
      await onCreated(created);
    } catch (error) {
      if (isAbort(error)) return;
      replace(status, errorNotice(error));
    }
  });

  return h(
    "details",
    { class: "panel create-panel" },
    h("summary", { text: "Create a segment" }),
    form,
  );
}

// ------------------------------------------------------------------ delete and its guard

function deletePanel(ctx, segment, { onDeleted, onCancel }) {
  const box = h("div", { class: "confirm", role: "group", "aria-label": `Delete ${segment.name}` });
  const cancel = () => h("button", { type: "button", class: "ghost-dark", text: "Cancel", onclick: onCancel });

  async function attempt(button, force) {
    const errors = box.querySelector(".attempt-error");
    errors?.remove();
    try {
      await busy(button, "Deleting…", () => ctx.api(segmentUrl(ctx, segment.segmentId), { method: "DELETE", query: force ? { force: "true" } : undefined }));
    } catch (error) {
      if (isAbort(error)) return;
      if (error.code === "SEGMENT_SHARED") {
        await guard(error.extra?.sharedWithCount);
        return;
      }
      const shown = errorNotice(error);
      shown.classList.add("attempt-error");
      box.append(shown);
      return;
    }
    await onDeleted();
  }

  // The delete guard: say how many projects have the segment, and how many of them this person cannot see.
  async function guard(sharedWithCount) {
    replace(box, loading("Checking which projects have this segment…"));
    let hidden = null;
    let total = typeof sharedWithCount === "number" ? sharedWithCount : null;
    try {
      const sharing = await ctx.api(segmentUrl(ctx, segment.segmentId, "sharing"));
      const visible = sharing.projects.filter((p) => p.shared).length;
      hidden = typeof sharing.hiddenSharedCount === "number" ? sharing.hiddenSharedCount : total === null ? null : total - visible;
      if (total === null) total = visible + (hidden ?? 0);
    } catch (error) {
      if (isAbort(error)) return;
    }
    const shared = total === null ? "shared with other projects" : `shared with ${plural(total, "project")}`;
    const sentence = hidden === null ? `“${segment.name}” is ${shared}.` : `“${segment.name}” is ${shared}, ${hidden} of which you cannot see.`;
    const warning = notice("warning", sentence, "Campaigns in those projects may be using it. Deleting it stops every one of those shares.");
    const actions = h("div", { class: "actions" });
    if (hidden === null || hidden === 0) {
      const force = h("button", {
        type: "button",
        class: "danger",
        text: total === null ? "Delete and stop sharing" : `Delete and stop sharing with ${plural(total, "project")}`,
      });
      force.addEventListener("click", () => attempt(force, true));
      actions.append(force, cancel());
    } else {
      warning.append(
        h(
          "p",
          {},
          "Only someone who can see every one of those projects, such as a company admin, can delete it. You can stop sharing it with the projects you see on its ",
          h("a", { href: ctx.path("segments", segment.segmentId, "sharing"), text: "Sharing tab" }),
          ".",
        ),
      );
      actions.append(cancel());
    }
    replace(box, warning, actions);
    actions.querySelector("button")?.focus();
  }

  const yes = h("button", { type: "button", class: "danger", text: "Delete segment" });
  yes.addEventListener("click", () => attempt(yes, false));
  replace(box, h("p", { text: `Delete “${segment.name}”? This cannot be undone.` }), h("div", { class: "actions" }, yes, cancel()));
  queueMicrotask(() => yes.focus());
  return box;
}

// ------------------------------------------------------------------ one segment: Overview and Sharing

export async function segmentView(ctx, tab) {
  const [segmentId] = ctx.params;
  replace(ctx.main, loading("Loading the segment…"));
  const segment = await ctx.api(segmentUrl(ctx, segmentId));
  if (segment.origin === "shared") {
    location.replace(ctx.path("shared", segmentId));
    return;
  }
  ctx.title(`${segment.name} · ${tab === "sharing" ? "Sharing" : "Overview"}`);
  const body = h("div", { class: "tab-body" });
  replace(
    ctx.main,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: ctx.path("segments"), text: "Segments" }), h("span", { "aria-hidden": "true", text: " › " }), segment.name),
    h("h1", { text: segment.name }),
    h("ul", { class: "subtabs" }, [
      h("li", {}, h("a", { href: ctx.path("segments", segmentId), "aria-current": tab === "overview" ? "page" : null, text: "Overview" })),
      h("li", {}, h("a", { href: ctx.path("segments", segmentId, "sharing"), "aria-current": tab === "sharing" ? "page" : null, text: "Sharing" })),
    ]),
    body,
  );
  if (tab === "sharing") await sharingTab(ctx, segment, body);
  else overviewTab(ctx, segment, body);
}

function overviewTab(ctx, segment, body) {
  const remove = h("button", { type: "button", class: "danger-outline", text: "Delete segment" });
  const slot = h("div");
  remove.addEventListener("click", () => {
    if (slot.firstChild) {
      replace(slot);
      return;
    }
    slot.append(
      deletePanel(ctx, segment, {
        onDeleted: () => {
          flash = `Deleted “${segment.name}”.`;
          ctx.go(ctx.path("segments"));
        },
        onCancel: () => {
          replace(slot);
          remove.focus();
        },
      }),
    );
  });
  replace(
    body,
    h(
      "dl",
      { class: "facts" },
      h("dt", { text: "Kind" }),
      h("dd", { text: segment.kind === "static" ? "Static list of profiles" : "Rule" }),
      h("dt", { text: segment.kind === "static" ? "Profiles" : "Rule" }),
      h("dd", { text: segment.kind === "static" ? plural((segment.profileIds ?? []).length, "profile") : describeRule(segment.rule ?? {}) }),
      h("dt", { text: "Shared with" }),
      h("dd", { text: segment.sharedWithCount ? plural(segment.sharedWithCount, "project") : "Not shared" }),
      h("dt", { text: "Created" }),
      h("dd", {}, time(segment.createdAt)),
    ),
    h("div", { class: "actions" }, h("a", { class: "button", href: ctx.path("segments", segment.segmentId, "sharing"), text: "Open the Sharing tab" }), remove),
    slot,
  );
}

async function sharingTab(ctx, segment, body) {
  const url = segmentUrl(ctx, segment.segmentId, "sharing");
  replace(body, loading("Loading the Sharing tab…"));
  const sharing = await ctx.api(url);
  let version = sharing.version;
  const names = new Map(sharing.projects.map((p) => [p.projectId, p.name]));
  const boxes = sharing.projects.map((project) => ({
    project,
    input: h("input", { type: "checkbox", id: uniqueId(`share-${project.projectId}`), value: project.projectId, checked: project.shared }),
  }));
  const hiddenLine = h("p", { class: "hidden-count" });
  const showHidden = (n) => {
    replace(
      hiddenLine,
      n > 0
        ? ["Also shared with ", h("strong", { text: plural(n, "other project") }), " you cannot see. Saving here leaves those shares as they are."]
        : "Not shared with any project you cannot see.",
    );
  };
  showHidden(sharing.hiddenSharedCount);
  const save = h("button", { type: "submit", class: "primary", text: "Save" });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const legendId = uniqueId("share-legend");
  const form = h(
    "form",
    { class: "panel sharing-form" },
    h(
      "fieldset",
      {},
      h("legend", { id: legendId, text: "Share with these projects" }),
      h("p", { class: "muted", text: "Every project you can access, apart from this one. Tick a project to share the segment with it." }),
      boxes.length
        ? h(
            "ul",
            { class: "checklist" },
            boxes.map(({ project, input }) => h("li", {}, input, h("label", { for: input.id, text: project.name }))),
          )
        : h("p", { class: "empty", text: "There is no other project you can access." }),
    ),
    hiddenLine,
    h("div", { class: "actions" }, save),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(status);
    const projectIds = boxes.filter((b) => b.input.checked).map((b) => b.project.projectId);
    try {
      const saved = await busy(save, "Saving…", () => ctx.api(url, { method: "PUT", body: { projectIds, version } }));
      version = saved.version;
      const shared = new Set(saved.projects.filter((p) => p.shared).map((p) => p.projectId));
      for (const b of boxes) b.input.checked = shared.has(b.project.projectId);
      showHidden(saved.hiddenSharedCount);
      const visible = saved.projects.filter((p) => p.shared).map((p) => p.name);
      const hiddenText = saved.hiddenSharedCount ? ` and ${plural(saved.hiddenSharedCount, "other project")} you cannot see` : "";
      replace(
        status,
        notice("success", "Sharing saved.", visible.length ? `Shared with ${visible.join(", ")}${hiddenText}.` : `Not shared with any project you can see${hiddenText ? `; still shared with ${plural(saved.hiddenSharedCount, "other project")} you cannot see` : ""}.`),
      );
      await loadHistory();
    } catch (error) {
      if (isAbort(error)) return;
      const shown = errorNotice(error);
      if (error.code === "VERSION_CONFLICT") {
        shown.append(h("button", { type: "button", class: "small", text: "Reload the Sharing tab", onclick: () => sharingTab(ctx, segment, body) }));
      }
      replace(status, shown);
    }
  });

  const historyList = h("ol", { class: "history" });
  const more = h("div", { class: "history-more" });
  replace(body, form, h("section", { class: "panel", "aria-labelledby": "history-title" }, h("h2", { id: "history-title", text: "Sharing history" }), historyList, more));

  function entryText(entry) {
    const parts = [];
    const named = (ids) => ids.map((id) => names.get(id) ?? id).join(", ");
    if (entry.added?.length) parts.push(`started sharing with ${named(entry.added)}`);
    if (entry.removed?.length) parts.push(`stopped sharing with ${named(entry.removed)}`);
    if (entry.hiddenAdded) parts.push(`started sharing with ${plural(entry.hiddenAdded, "project")} you cannot see`);
    if (entry.hiddenRemoved) parts.push(`stopped sharing with ${plural(entry.hiddenRemoved, "project")} you cannot see`);
    return parts.length ? parts.join("; ") : "saved without changes";
  }

  async function loadHistory(cursor) {
    if (!cursor) replace(historyList, h("li", {}, loading("Loading the history…")));
    replace(more);
    try {
      const page = await ctx.api(`${url}/history`, { query: { limit: 20, cursor } });
      if (!cursor) replace(historyList);
      for (const entry of page.history) {
        historyList.append(h("li", { class: "history-entry" }, time(entry.at), h("span", {}, h("strong", { text: entry.userId }), ` ${entryText(entry)}.`)));
      }
      if (!historyList.children.length) historyList.append(h("li", { class: "empty", text: "No sharing changes yet." }));
      if (page.nextCursor) {
        const button = h("button", { type: "button", class: "small", text: "Show older changes" });
        button.addEventListener("click", () => busy(button, "Loading…", () => loadHistory(page.nextCursor)));
        more.append(button);
      }
    } catch (error) {
      if (isAbort(error)) return;
      replace(more, errorNotice(error));
      if (!cursor) replace(historyList);
    }
  }
  await loadHistory();
}
