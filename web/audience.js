// Audience preview: segments (own or shared) combined with all/any, a message template with
// {{attribute}}, and the resulting count and sample messages from this project's own data.

import { describe, isAbort } from "./api.js";
import { busy, focusOn, h, loading, notice, number, plural, replace, stackable, uniqueId } from "./dom.js";
import { evaluateNow } from "./shared.js";

export async function audienceView(ctx) {
  ctx.title("Audience preview");
  const choices = h("div", { class: "segment-choices" });
  const result = h("div", { class: "preview-result", "aria-live": "polite" });
  replace(
    ctx.main,
    h("h1", { text: "Audience preview" }),
    h("p", {
      class: "lead",
      text: `Pick segments, own or shared, and a message. The audience and every {{attribute}} come from ${ctx.project.name}'s own profiles: an attribute a profile does not have here is left blank.`,
    }),
    choices,
    result,
  );
  replace(choices, loading("Loading segments…"));
  const { segments } = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/segments`);
  const byName = (a, b) => a.name.localeCompare(b.name);
  const own = segments.filter((s) => s.origin === "own").sort(byName);
  const shared = segments.filter((s) => s.origin === "shared").sort(byName);
  const boxes = [];
  const group = (title, list, describeOne) => {
    if (!list.length) return null;
    return h(
      "div",
      { class: "choice-group" },
      h("h3", { text: title }),
      h(
        "ul",
        { class: "checklist" },
        list.map((segment) => {
          const input = h("input", { type: "checkbox", id: uniqueId("pick"), value: segment.segmentId });
          boxes.push(input);
          return h("li", {}, input, h("label", { for: input.id }, segment.name, describeOne(segment)));
        }),
      ),
    );
  };

  const matchName = uniqueId("match");
  const radio = (value, text, checked) => {
    const input = h("input", { type: "radio", name: matchName, id: `${matchName}-${value}`, value, checked });
    return h("li", {}, input, h("label", { for: input.id, text }));
  };
  const template = h("textarea", { id: uniqueId("template"), rows: "2", spellcheck: "false" });
  template.value = "Hi {{first_name}}!";
  const limit = h("input", { id: uniqueId("limit"), type: "number", min: "1", max: "100", value: "20", inputmode: "numeric" });
  const submit = h("button", { type: "submit", class: "primary", text: "Preview" });
  const form = h(
    "form",
    { class: "panel audience-form" },
    h(
      "fieldset",
      {},
      h("legend", { text: "Segments" }),
      own.length + shared.length
        ? [
            group("Own segments", own, () => null),
            group("Shared with this project", shared, (s) => h("span", { class: "badge badge-shared", text: `from ${s.sourceProjectName ?? s.sourceProjectId}` })),
          ]
        : h("p", { class: "muted", text: "This project has no segments yet." }),
      h("p", { class: "hint", text: "Choose none for the full broadcast: every profile of the project." }),
    ),
    h("fieldset", {}, h("legend", { text: "Profiles must be in" }), h("ul", { class: "checklist inline" }, radio("all", "all of the chosen segments", true), radio("any", "any of the chosen segments", false))),
    h("div", { class: "field" }, h("label", { for: template.id, text: "Message template" }), template, h("p", { class: "hint", text: "{{attribute}} is replaced by the profile's attribute in this project, e.g. {{first_name}}." })),
    h("div", { class: "field narrow" }, h("label", { for: limit.id, text: "Sample messages" }), limit),
    h("div", { class: "actions" }, submit),
  );
  replace(choices, form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const segmentIds = boxes.filter((b) => b.checked).map((b) => b.value);
    const match = form.querySelector(`input[name="${matchName}"]:checked`)?.value ?? "all";
    const size = Math.min(100, Math.max(1, Number.parseInt(limit.value, 10) || 20));
    replace(result, loading("Building the audience…"));
    try {
      const preview = await busy(submit, "Previewing…", () =>
        ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/audiences/preview`, {
          method: "POST",
          body: { segmentIds, match, template: template.value, limit: size },
        }),
      );
      replace(
        result,
        h(
          "section",
          { class: "panel", "aria-labelledby": "preview-title" },
          h("h2", { id: "preview-title", text: "Preview" }),
          h("p", { class: "big-number" }, h("strong", { text: number(preview.count) }), ` ${preview.count === 1 ? "profile" : "profiles"} in the audience`),
          preview.sample.length
            ? stackable(h(
                "table",
                { class: "data sample" },
                h("caption", { class: "caption", text: `First ${plural(preview.sample.length, "message")}` }),
                h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Profile" }), h("th", { scope: "col", text: "Message" }))),
                h(
                  "tbody",
                  {},
                  preview.sample.map((s) => h("tr", { "data-profile": s.profileId }, h("td", { class: "mono", text: s.profileId }), h("td", {}, h("span", { class: "message", text: s.message })))),
                ),
              ))
            : h("p", { class: "empty", text: "No profile is in this audience." }),
        ),
      );
    } catch (error) {
      if (isAbort(error)) return;
      if (error.code === "NOT_EVALUATED") {
        await notEvaluated(segmentIds);
        return;
      }
      const { sentence, detail } = describe(error);
      replace(result, notice("error", sentence, detail));
    }
  });

  // Names the chosen shared segments that have no evaluation yet and offers to evaluate each
  // here; once evaluated, the preview runs again (issue 17 item 10).
  async function notEvaluated(segmentIds) {
    const { sharedSegments } = await ctx.api(`/v1/projects/${encodeURIComponent(ctx.project.projectId)}/shared-segments`);
    const missing = sharedSegments.filter((s) => segmentIds.includes(s.sharedSegmentId) && !s.lastEvaluation);
    if (!missing.length) {
      const { sentence } = describe({});
      replace(result, notice("error", sentence));
      return;
    }
    const names = missing.map((s) => `“${s.name}”`).join(", ");
    const shown = notice(
      "error",
      `${names} ${missing.length === 1 ? "has" : "have"} not been evaluated in ${ctx.project.name} yet.`,
      "A shared segment brings the members of its latest evaluation. Evaluate it, then the preview runs again.",
    );
    const actions = h("div", { class: "actions" });
    for (const shared of missing) {
      const button = h("button", { type: "button", class: "small primary", text: `Evaluate “${shared.name}” now` });
      button.addEventListener("click", async () => {
        try {
          const { done, message } = await evaluateNow(ctx, shared, button);
          if (done.status !== "SUCCEEDED") {
            actions.after(message);
            return;
          }
          button.remove();
          if (!actions.querySelector("button")) {
            submit.focus();
            form.requestSubmit(submit);
          }
        } catch (err) {
          if (isAbort(err)) return;
          const { sentence, detail } = describe(err);
          actions.after(notice("error", sentence, detail));
        }
      });
      actions.append(button);
    }
    shown.append(actions);
    replace(result, shown);
    focusOn(actions.querySelector("button"));
  }
}
