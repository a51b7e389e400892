// Segments: the project's own segments and those shared into it, the rule builder, the delete
// guard, and a segment's Overview, Edit and Sharing tabs.

import { describe, isAbort } from "./api.js";
import { busy, focusOn, h, loading, notice, plural, replace, stackable, time, uniqueId } from "./dom.js";

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
const NUMERIC = new Set(["gt", "gte", "lt", "lte"]);
const PLATFORMS = [
  ["ios", "iOS"],
  ["android", "Android"],
];
// API.md: a segment's name is at most 200 characters; "is one of" takes 1 to 100 values.
const NAME_MAX = 200;
const LIST_MAX = 100;

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
  if (condition.platform) return `has a device on ${Object.fromEntries(PLATFORMS)[condition.platform] ?? condition.platform}`;
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
    ruleBuilder(ctx, () => replace(status), async (created) => {
      replace(
        status,
        notice("success", `Created “${created.name}”.`, null),
      );
      if (ctx.sharedSegments) status.firstChild.append(h("p", {}, h("a", { href: ctx.path("segments", created.segmentId, "sharing"), text: "Open its Sharing tab" })));
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
      stackable(
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
              // The row and its button are gone: the message is where focus goes (issue 17 item 1).
              focusOn(status.firstChild);
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
        ctx.sharedSegments
          ? h("a", { class: "button small", href: ctx.path("segments", segment.segmentId, "sharing"), text: "Sharing", "aria-label": `Sharing of ${segment.name}` })
          : null,
        remove,
      );
    } else {
      actions.append(
        h("a", { class: "button small", href: ctx.path("shared", segment.segmentId), text: "Evaluations", "aria-label": `Evaluations of ${segment.name}` }),
      );
    }
    row.append(
      h("td", { class: "name-cell" }, h("a", { href: isOwn ? ctx.path("segments", segment.segmentId) : ctx.path("shared", segment.segmentId), text: segment.name })),
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

// A value the person typed, or why it cannot be used: a field to mark and a sentence.
class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function ruleBuilder(ctx, onSubmitStart, onCreated) {
  return h("details", { class: "panel create-panel" }, h("summary", { text: "Create a segment" }), ruleForm(ctx, { onSubmitStart, onSaved: onCreated }));
}

// API.md: own ids (a static segment's profile ids too) and a static list of at most 5000.
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;
const STATIC_MAX = 5000;

// A rule the builder can show: one group of conditions, none of them a nested group.
function isFlat(rule) {
  const list = rule?.all ?? rule?.any;
  return Array.isArray(list) && list.length > 0 && list.every((c) => !c.all && !c.any);
}

// The create form, or with `segment` its edit form: the same fields, filled in, sending a PATCH
// with the version it was opened at (API.md). A rule with nested groups keeps its rule (the
// builder shows one level) and a static segment edits its list of profile ids instead.
function ruleForm(ctx, { segment = null, onSubmitStart = () => {}, onSaved, onReload = null }) {
  const editing = segment !== null;
  const formId = uniqueId(editing ? "edit" : "create");
  let version = segment?.version;
  const editsRule = !editing || (segment.kind === "rule" && isFlat(segment.rule));
  const editsList = editing && segment.kind === "static";
  // No maxlength: it would cut a pasted name at 200 without a word (issue 17 item 7); the
  // length is checked on submit and said instead.
  const name = h("input", { id: `${formId}-name`, type: "text", required: true, autocomplete: "off", "aria-describedby": `${formId}-name-hint` });
  const nameHint = h("p", { id: `${formId}-name-hint`, class: "hint", text: `Up to ${NAME_MAX} characters.` });
  const match = h(
    "select",
    { id: `${formId}-match` },
    h("option", { value: "all", text: "all of the conditions" }),
    h("option", { value: "any", text: "any of the conditions" }),
  );
  const conditions = h("div", { class: "conditions" });
  const profileList = h("textarea", { id: `${formId}-profiles`, rows: "6", spellcheck: "false", autocomplete: "off", "aria-describedby": `${formId}-profiles-hint` });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary", text: editing ? "Save changes" : "Create segment" });
  const rows = [];

  function renumber() {
    rows.forEach((row, i) => {
      row.el.setAttribute("aria-label", `Condition ${i + 1}`);
      row.remove.setAttribute("aria-label", `Remove condition ${i + 1}`);
      row.remove.disabled = rows.length === 1;
    });
  }

  function addCondition(filled = null) {
    const id = uniqueId("cond");
    const attribute = h("input", { id: `${id}-attr`, type: "text", placeholder: "e.g. country", autocomplete: "off", spellcheck: "false" });
    const op = h("select", { id: `${id}-op` }, OPERATORS.map(([value, text]) => h("option", { value, text })));
    const value = h("input", { id: `${id}-value`, type: "text", placeholder: "e.g. IE", autocomplete: "off" });
    // The platform is a choice, not something to type (issue 17 item 8).
    const platform = h("select", { id: `${id}-platform`, hidden: true }, PLATFORMS.map(([v, text]) => h("option", { value: v, text })));
    const valueLabel = h("label", { for: value.id, text: "Value" });
    const remove = h("button", { type: "button", class: "small ghost-dark", text: "Remove" });
    const el = h(
      "div",
      { class: "condition", role: "group" },
      h("div", { class: "field" }, h("label", { for: attribute.id, text: "Attribute" }), attribute),
      h("div", { class: "field" }, h("label", { for: op.id, text: "Operator" }), op),
      h("div", { class: "field" }, valueLabel, value, platform),
      remove,
    );
    const row = { el, attribute, op, value, platform, remove, original: null };
    const showOp = () => {
      const isPlatform = op.value === "platform";
      attribute.disabled = isPlatform;
      value.hidden = isPlatform;
      platform.hidden = !isPlatform;
      valueLabel.htmlFor = isPlatform ? platform.id : value.id;
      valueLabel.textContent = isPlatform ? "Platform" : "Value";
      value.disabled = NO_VALUE.has(op.value);
      value.placeholder = LISTS.has(op.value) ? "IE, DE, FR" : NUMERIC.has(op.value) ? "a number, e.g. 50" : "e.g. IE";
      value.inputMode = NUMERIC.has(op.value) ? "decimal" : "text";
    };
    op.addEventListener("change", showOp);
    if (filled?.platform) {
      op.value = "platform";
      platform.value = filled.platform;
    } else if (filled) {
      attribute.value = filled.attribute;
      op.value = filled.op;
      if (Array.isArray(filled.value)) value.value = filled.value.join(", ");
      else if (filled.value !== undefined && filled.value !== null) value.value = String(filled.value);
      // Typed text cannot tell "50" from 50 or true from "true": a condition left as it was is
      // sent back exactly as stored, so saving a rename never changes what the rule compares.
      row.original = { condition: filled, attribute: attribute.value, op: op.value, text: value.value };
    }
    showOp();
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

  // The rule as API.md takes it; throws FieldError naming the field to fix, in the console's words.
  function readRule() {
    const list = rows.map((row, i) => {
      const where = `Condition ${i + 1}`;
      const op = row.op.value;
      if (op === "platform") return { platform: row.platform.value };
      const kept = row.original;
      if (kept && kept.attribute === row.attribute.value && kept.op === op && kept.text === row.value.value) return kept.condition;
      const attribute = row.attribute.value.trim();
      if (!attribute) throw new FieldError(row.attribute, `${where}: name the attribute.`);
      if (NO_VALUE.has(op)) return { attribute, op };
      const text = row.value.value.trim();
      if (!text) throw new FieldError(row.value, `${where}: enter a value.`);
      if (LISTS.has(op)) {
        const values = text.split(",").map((v) => v.trim()).filter((v) => v !== "").map(scalar);
        if (values.length === 0 || values.length > LIST_MAX) {
          throw new FieldError(row.value, `${where}: enter between 1 and ${LIST_MAX} values, separated by commas.`);
        }
        return { attribute, op, value: values };
      }
      if (NUMERIC.has(op)) {
        const n = scalar(text);
        if (typeof n !== "number") throw new FieldError(row.value, `${where}: “${OPERATOR_TEXT[op]}” compares numbers: enter a number, such as 50.`);
        return { attribute, op, value: n };
      }
      // "contains" looks for text inside text: 5 is sent as "5", never as a number.
      if (op === "contains") return { attribute, op, value: text };
      return { attribute, op, value: scalar(text) };
    });
    return { [match.value]: list };
  }

  // A static segment's profile ids, one a line or separated by commas or spaces.
  function readList() {
    const ids = profileList.value.split(/[\s,]+/).filter((id) => id !== "");
    if (ids.length > STATIC_MAX) throw new FieldError(profileList, `A static segment lists at most ${STATIC_MAX} profiles; this list has ${ids.length}.`);
    const bad = ids.find((id) => !ID_PATTERN.test(id));
    if (bad !== undefined) {
      throw new FieldError(profileList, `“${bad}” is not a profile id: ids are 2 to 63 lower-case letters, digits and hyphens, starting with a letter or digit.`);
    }
    return ids;
  }

  function clearMarks() {
    for (const field of form.querySelectorAll("[aria-invalid='true']")) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-errormessage");
    }
  }

  // Shows the sentence, marks the field invalid (pointing at the sentence) and puts focus on it.
  function refuse(field, sentence) {
    const shown = notice("error", sentence);
    shown.id = `${formId}-error`;
    replace(status, shown);
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-errormessage", shown.id);
      field.focus();
    }
  }

  const form = h(
    "form",
    { class: "rule-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: name.id, text: "Name" }), name, nameHint),
    editsRule
      ? [
          h("div", { class: "field" }, h("label", { for: match.id, text: "Profiles must match" }), match),
          h("fieldset", {}, h("legend", { text: "Conditions" }), conditions, h("button", { type: "button", class: "small", text: "Add condition", onclick: () => addCondition().attribute.focus() })),
          h("p", { class: "hint", text: "Numbers are compared as numbers. For “is one of”, separate the values with commas." }),
        ]
      : null,
    editsList
      ? h(
          "div",
          { class: "field" },
          h("label", { for: profileList.id, text: "Profile ids" }),
          profileList,
          h("p", { id: `${formId}-profiles-hint`, class: "hint", text: `One a line (or separated by commas), up to ${STATIC_MAX}. The list replaces the current one.` }),
        )
      : null,
    editing && segment.kind === "rule" && !editsRule
      ? h(
          "div",
          { class: "field" },
          h("p", {}, h("strong", { text: "Rule: " }), describeRule(segment.rule ?? {})),
          h("p", { class: "hint", text: "This rule has groups inside groups, which this form cannot show; saving here keeps it as it is." }),
        )
      : null,
    h("div", { class: "actions" }, submit),
    status,
  );
  if (editing) {
    name.value = segment.name;
    if (editsRule) {
      match.value = segment.rule.all ? "all" : "any";
      for (const condition of segment.rule.all ?? segment.rule.any) addCondition(condition);
    }
    if (editsList) profileList.value = (segment.profileIds ?? []).join("\n");
  } else {
    addCondition();
  }

  // What the form holds, to tell whether anything changed since it was filled in or saved.
  const snapshot = () => JSON.stringify([name.value, match.value, profileList.value, rows.map((r) => [r.attribute.value, r.op.value, r.value.value, r.platform.value])]);
  let savedState = snapshot();
  if (editing) ctx.guardLeaving(() => (form.isConnected && snapshot() !== savedState ? "The segment has unsaved changes. Leave without saving them?" : null));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // A message from an earlier create must not stay above this attempt's outcome (issue 17 item 8).
    onSubmitStart();
    replace(status);
    clearMarks();
    const wanted = name.value.trim();
    if (!wanted) {
      refuse(name, "Give the segment a name.");
      return;
    }
    if (wanted.length > NAME_MAX) {
      refuse(name, `A name is at most ${NAME_MAX} characters; this one has ${wanted.length}. Shorten it.`);
      return;
    }
    const body = { name: wanted };
    try {
      if (editsRule) body.rule = readRule();
      if (editsList) body.profileIds = readList();
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      refuse(error.field, error.message);
      return;
    }
    try {
      if (editing) {
        const edited = await busy(submit, "Saving…", () => ctx.api(segmentUrl(ctx, segment.segmentId), { method: "PATCH", body: { ...body, version } }));
        version = edited.version;
        savedState = snapshot();
        replace(status, notice("success", `Saved “${edited.name}”.`, "Projects it is shared with see the new name now and the new members from their next evaluation."));
        await onSaved(edited);
        return;
      }
      const created = await busy(submit, "Creating…", () =>
        ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/segments`, { method: "POST", body }),
      );
      name.value = "";
      for (const row of rows.slice(1)) row.el.remove();
      rows.splice(1);
      rows[0].attribute.value = "";
      rows[0].value.value = "";
      renumber();
      await onSaved(created);
    } catch (error) {
      if (isAbort(error)) return;
      if (error.code === "VERSION_CONFLICT") {
        // The edit was made on a version someone else has replaced since: say so, keep what this
        // person typed on screen, and offer the fresh segment.
        const shown = notice(
          "error",
          "Someone else saved a change to this segment after you opened it, so your changes were not saved.",
          "Reload to see the segment as it is now, then make your changes again. Reloading replaces what you typed here.",
        );
        if (onReload) shown.append(h("button", { type: "button", class: "small", text: "Reload the segment", onclick: onReload }));
        replace(status, shown);
        return;
      }
      if (error.code === "INVALID_RULE" || error.code === "VALIDATION_ERROR") {
        // The server's own wording ("1 to 100 scalars") is not for people; say it in the console's.
        refuse(null, error.code === "INVALID_RULE" ? "The server did not accept these conditions. Check each value against its operator." : "The server did not accept the name or the conditions. Check them and try again.");
        return;
      }
      replace(status, errorNotice(error));
    }
  });

  return form;
}

// ------------------------------------------------------------------ delete and its guard

// The delete confirmation. A shared segment's shares (and how many of them this person cannot
// see) are shown before anything is deleted, and focus starts on Cancel, so Enter, Enter never
// deletes a shared segment by accident (issue 17 item 3, the seed's hidden count).
function deletePanel(ctx, segment, { onDeleted, onCancel }) {
  const box = h("div", { class: "confirm", role: "group", "aria-label": `Delete ${segment.name}` });
  const cancelButton = () => h("button", { type: "button", class: "ghost-dark", text: "Cancel", onclick: onCancel });

  async function attempt(button, force) {
    box.querySelector(".attempt-error")?.remove();
    try {
      await busy(button, "Deleting…", () => ctx.api(segmentUrl(ctx, segment.segmentId), { method: "DELETE", query: force ? { force: "true" } : undefined }));
    } catch (error) {
      if (isAbort(error)) return;
      if (error.code === "SEGMENT_SHARED") {
        // Shared since the panel opened: show the shares again, then ask again.
        await ask();
        return;
      }
      const shown = errorNotice(error);
      shown.classList.add("attempt-error");
      box.append(shown);
      focusOn(shown);
      return;
    }
    await onDeleted();
  }

  async function ask() {
    replace(box, loading("Checking which projects have this segment…"));
    let sharing = null;
    if (ctx.sharedSegments) {
      try {
        sharing = await ctx.api(segmentUrl(ctx, segment.segmentId, "sharing"));
      } catch (error) {
        if (isAbort(error)) return;
        if (error.code !== "FEATURE_DISABLED") {
          replace(box, errorNotice(error), h("div", { class: "actions" }, cancelButton()));
          box.querySelector("button")?.focus();
          return;
        }
      }
    }
    const visible = sharing ? sharing.projects.filter((p) => p.shared).map((p) => p.name) : [];
    const hidden = sharing?.hiddenSharedCount ?? 0;
    const total = visible.length + hidden;
    const cancel = cancelButton();
    const actions = h("div", { class: "actions" });
    if (total === 0) {
      const yes = h("button", { type: "button", class: "danger", text: "Delete segment" });
      yes.addEventListener("click", () => attempt(yes, false));
      replace(box, h("p", { text: `Delete “${segment.name}”? This cannot be undone.` }), actions);
      actions.append(cancel, yes);
    } else {
      const where = [visible.join(", "), hidden ? `${plural(hidden, "other project")} you cannot see` : ""].filter(Boolean).join(" and ");
      const sentence = `“${segment.name}” is shared with ${plural(total, "project")}: ${where}.`;
      if (hidden) {
        const warning = notice(
          "warning",
          sentence,
          "Only someone who can see every one of those projects, such as a company admin, can delete it, because campaigns there may be using it.",
        );
        warning.append(
          h(
            "p",
            {},
            "You can stop sharing it with the projects you see on its ",
            h("a", { href: ctx.path("segments", segment.segmentId, "sharing"), text: "Sharing tab" }),
            ".",
          ),
        );
        replace(box, warning, actions);
        actions.append(cancel);
      } else {
        const warning = notice("warning", sentence, `Campaigns there may be using it. Deleting it also stops sharing it with ${total === 1 ? "that project" : `those ${total} projects`}. This cannot be undone.`);
        const force = h("button", { type: "button", class: "danger", text: `Delete and stop sharing with ${plural(total, "project")}` });
        force.addEventListener("click", () => attempt(force, true));
        replace(box, warning, actions);
        actions.append(cancel, force);
      }
    }
    cancel.focus();
  }

  ask();
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
  const tabName = { sharing: "Sharing", edit: "Edit" }[tab] ?? "Overview";
  ctx.title(`${segment.name} · ${tabName}`);
  const body = h("div", { class: "tab-body" });
  const crumb = h("span", { text: segment.name });
  const heading = h("h1", { text: segment.name });
  replace(
    ctx.main,
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: ctx.path("segments"), text: "Segments" }), h("span", { "aria-hidden": "true", text: " › " }), crumb),
    heading,
    h("ul", { class: "subtabs" }, [
      h("li", {}, h("a", { href: ctx.path("segments", segmentId), "aria-current": tab === "overview" ? "page" : null, text: "Overview" })),
      h("li", {}, h("a", { href: ctx.path("segments", segmentId, "edit"), "aria-current": tab === "edit" ? "page" : null, text: "Edit" })),
      ctx.sharedSegments || tab === "sharing"
        ? h("li", {}, h("a", { href: ctx.path("segments", segmentId, "sharing"), "aria-current": tab === "sharing" ? "page" : null, text: "Sharing" }))
        : null,
    ]),
    body,
  );
  const renamed = (name) => {
    heading.textContent = name;
    crumb.textContent = name;
    ctx.title(`${name} · ${tabName}`);
  };
  if (tab === "sharing") await sharingTab(ctx, segment, body);
  else if (tab === "edit") editTab(ctx, segment, body, renamed);
  else overviewTab(ctx, segment, body);
}

// The Edit tab: the rule builder (or the static list) filled in with the segment, saved with
// the version it was read at; a conflict offers the segment as it is now (API.md PATCH).
function editTab(ctx, segment, body, renamed) {
  const form = ruleForm(ctx, {
    segment,
    onSaved: (edited) => renamed(edited.name),
    onReload: async () => {
      replace(body, loading("Loading the segment…"));
      const fresh = await ctx.api(segmentUrl(ctx, segment.segmentId));
      renamed(fresh.name);
      editTab(ctx, fresh, body, renamed);
      body.querySelector("input")?.focus();
    },
  });
  replace(
    body,
    h(
      "section",
      { class: "panel", "aria-labelledby": "edit-title" },
      h("h2", { id: "edit-title", text: segment.kind === "static" ? "Edit the name and the list" : "Edit the name and the rule" }),
      form,
    ),
  );
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
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: ctx.path("segments", segment.segmentId, "edit"), text: "Edit segment" }),
      ctx.sharedSegments ? h("a", { class: "button", href: ctx.path("segments", segment.segmentId, "sharing"), text: "Open the Sharing tab" }) : null,
      remove,
    ),
    slot,
  );
}

async function sharingTab(ctx, segment, body) {
  const url = segmentUrl(ctx, segment.segmentId, "sharing");
  replace(body, loading("Loading the Sharing tab…"));
  const sharing = await ctx.api(url);
  let version = sharing.version;
  let saved = new Set(sharing.projects.filter((p) => p.shared).map((p) => p.projectId));
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
  // Save says "nothing to save" until a tick changes (issue 17 item 9): aria-disabled, not
  // disabled, so it keeps focus after a save and still explains itself when pressed.
  const save = h("button", { type: "submit", class: "primary", text: "Save", "data-explain": "" });
  const status = h("div", { class: "form-status", "aria-live": "polite" });
  const ticked = () => boxes.filter((b) => b.input.checked).map((b) => b.project.projectId);
  const changed = () => {
    const now = ticked();
    return now.length !== saved.size || now.some((id) => !saved.has(id));
  };
  const markChanged = () => {
    if (changed()) save.removeAttribute("aria-disabled");
    else save.setAttribute("aria-disabled", "true");
  };
  for (const b of boxes) b.input.addEventListener("change", markChanged);
  markChanged();
  ctx.guardLeaving(() => (body.isConnected && changed() ? "The Sharing tab has unsaved changes. Leave without saving them?" : null));
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
    if (!changed()) {
      // Nothing to send: a save would only record an empty history line.
      replace(status, notice("info", "Nothing to save: tick or untick a project first."));
      return;
    }
    const projectIds = ticked();
    try {
      const answer = await busy(save, "Saving…", () => ctx.api(url, { method: "PUT", body: { projectIds, version } }));
      version = answer.version;
      saved = new Set(answer.projects.filter((p) => p.shared).map((p) => p.projectId));
      for (const b of boxes) b.input.checked = saved.has(b.project.projectId);
      markChanged();
      showHidden(answer.hiddenSharedCount);
      const visible = answer.projects.filter((p) => p.shared).map((p) => p.name);
      const hiddenText = answer.hiddenSharedCount ? ` and ${plural(answer.hiddenSharedCount, "other project")} you cannot see` : "";
      replace(
        status,
        notice("success", "Sharing saved.", visible.length ? `Shared with ${visible.join(", ")}${hiddenText}.` : `Not shared with any project you can see${hiddenText ? `; still shared with ${plural(answer.hiddenSharedCount, "other project")} you cannot see` : ""}.`),
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
