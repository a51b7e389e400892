// Profiles: the project's own profiles a page at a time (API.md "Profiles": GET .../profiles,
// signed nextCursor, total from counters), with the Imports sub-tab beside it.

import { busy, focusOn, h, loading, notice, number, replace, stackable } from "./dom.js";
import { describe, isAbort } from "./api.js";

// API.md: limit defaults to 50 (max 1000); 50 rows keep a phone's card list short.
export const PAGE_SIZE = 50;
// Attributes shown in a row before "and N more": a profile holds up to 100.
const ATTRIBUTES_SHOWN = 4;

export function profilesHeader(ctx, active) {
  return [
    h("h1", { text: "Profiles" }),
    h("p", {
      class: "lead",
      text: `${ctx.project.name}'s own profiles: their attributes and devices. Import adds or replaces many at once from a JSONL or CSV file.`,
    }),
    h("ul", { class: "subtabs" }, [
      h("li", {}, h("a", { href: ctx.path("profiles"), "aria-current": active === "profiles" ? "page" : null, text: "All profiles" })),
      h("li", {}, h("a", { href: ctx.path("imports"), "aria-current": active === "imports" ? "page" : null, text: "Imports" })),
    ]),
  ];
}

function attributesText(attributes) {
  const entries = Object.entries(attributes ?? {});
  if (!entries.length) return h("span", { class: "muted", text: "None" });
  const shown = entries.slice(0, ATTRIBUTES_SHOWN).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  const more = entries.length - ATTRIBUTES_SHOWN;
  return h("span", { class: "attributes", text: more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ") });
}

function devicesOf(profile, platform) {
  return (profile.devices ?? []).filter((d) => d.platform === platform).length;
}

export async function profilesView(ctx) {
  ctx.title("Profiles");
  const summary = h("p", { class: "big-number", "aria-live": "polite" });
  const table = h("div", { class: "table-wrap" });
  const previous = h("button", { type: "button", text: "Previous page" });
  const next = h("button", { type: "button", text: "Next page" });
  const position = h("span", { class: "pager-position", "aria-live": "polite" });
  const status = h("div", { class: "page-status" });
  replace(
    ctx.main,
    h("div", { class: "page-head" }, h("div", { class: "page-title" }, ...profilesHeader(ctx, "profiles")), h("div", { class: "actions" }, h("a", { class: "button primary", href: ctx.path("imports"), text: "Import profiles" }))),
    summary,
    status,
    table,
    h("nav", { class: "pager", "aria-label": "Profile pages" }, previous, position, next),
  );
  // cursors[i] opens page i (page 0 has none); a page's nextCursor becomes cursors[i + 1].
  // starts[i]: rows on the pages before page i, summed as pages are walked (a cursor is opaque, not an offset).
  const cursors = [null];
  const starts = [0];
  let index = 0;
  let hasNext = false;

  // After busy() (which clears aria-disabled when its work ends): a pager button with nothing to
  // do is aria-disabled, not disabled, so the focus on it is kept (issue 17 item 1).
  function sync() {
    for (const [button, enabled] of [[previous, index > 0], [next, hasNext]]) {
      if (enabled) button.removeAttribute("aria-disabled");
      else button.setAttribute("aria-disabled", "true");
    }
  }

  async function show(pageIndex) {
    if (!table.firstChild) replace(table, loading("Loading profiles…"));
    const page = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/profiles`, { query: { limit: PAGE_SIZE, cursor: cursors[pageIndex] } });
    replace(status);
    if (pageIndex > 0 && !page.profiles.length) {
      // API.md: a full last page may be followed by an empty one. Stay on the last page.
      cursors.length = pageIndex;
      hasNext = false;
      replace(status, notice("info", "That was the last page."));
      return;
    }
    index = pageIndex;
    cursors[index + 1] = page.nextCursor ?? undefined;
    cursors.length = page.nextCursor ? index + 2 : index + 1;
    replace(summary, h("strong", { text: number(page.total) }), ` ${page.total === 1 ? "profile" : "profiles"} in ${ctx.project.name}`);
    if (!page.profiles.length) {
      replace(table, h("p", { class: "empty", text: `${ctx.project.name} has no profiles yet. Import a file to add some.` }));
    } else {
      replace(
        table,
        stackable(
          h(
            "table",
            { class: "data" },
            h("caption", { class: "visually-hidden", text: `Profiles of ${ctx.project.name}, page ${index + 1}` }),
            h("thead", {}, h("tr", {}, ["Profile", "Attributes", "iOS devices", "Android devices"].map((c) => h("th", { scope: "col", class: /devices/.test(c) ? "num" : null, text: c })))),
            h(
              "tbody",
              {},
              page.profiles.map((p) =>
                h(
                  "tr",
                  { "data-profile": p.profileId },
                  h("td", { class: "name-cell mono", text: p.profileId }),
                  h("td", { class: "attributes-cell" }, attributesText(p.attributes)),
                  h("td", { class: "num", text: number(devicesOf(p, "ios")) }),
                  h("td", { class: "num", text: number(devicesOf(p, "android")) }),
                ),
              ),
            ),
          ),
        ),
      );
    }
    const last = starts[index] + page.profiles.length;
    starts[index + 1] = last;
    position.textContent = page.profiles.length ? `Page ${index + 1}: profiles ${number(starts[index] + 1)} to ${number(last)} of ${number(page.total)}` : "";
    hasNext = Boolean(page.nextCursor);
  }

  const move = (button, target) => async () => {
    try {
      await busy(button, "Loading…", () => show(target()));
    } catch (error) {
      if (isAbort(error)) return;
      const { sentence, detail } = describe(error);
      replace(status, notice("error", sentence, detail));
    }
    sync();
    // Focus stays on the button pressed; on the first or last page it has nothing left to do,
    // so focus goes to where the page says which rows are shown.
    if (button.getAttribute("aria-disabled") === "true") focusOn(position);
  };
  previous.addEventListener("click", move(previous, () => index - 1));
  next.addEventListener("click", move(next, () => index + 1));
  await show(0);
  sync();
}
