// The console: sign-in, the project picker, the tabs and a hash router. Every screen is
// fetched fresh from the API when it is shown; nothing is kept across projects or users.

import { api, describe, isAbort } from "./api.js";
import { claims, currentToken, hostedUi, localUsers, signOut, startHostedSignIn, takeTokenFromFragment, useToken } from "./auth.js";
import { audienceView } from "./audience.js";
import { focusOn, h, loading, notice, replace } from "./dom.js";
import { importsView } from "./imports.js";
import { profilesView } from "./profiles.js";
import { segmentView, segmentsView } from "./segments.js";
import { sharedDetailView, sharedListView } from "./shared.js";

const root = document.getElementById("app");

const ROLES = { operator: "operator", company_admin: "company admin", project_admin: "project admin" };

const ROUTES = [
  { pattern: /^\/p\/([^/]+)\/segments$/, tab: "segments", view: segmentsView },
  { pattern: /^\/p\/([^/]+)\/segments\/([^/]+)$/, tab: "segments", view: (ctx) => segmentView(ctx, "overview") },
  { pattern: /^\/p\/([^/]+)\/segments\/([^/]+)\/sharing$/, tab: "segments", view: (ctx) => segmentView(ctx, "sharing") },
  { pattern: /^\/p\/([^/]+)\/segments\/([^/]+)\/edit$/, tab: "segments", view: (ctx) => segmentView(ctx, "edit") },
  { pattern: /^\/p\/([^/]+)\/shared$/, tab: "shared", view: sharedListView },
  { pattern: /^\/p\/([^/]+)\/shared\/([^/]+)$/, tab: "shared", view: (ctx) => sharedDetailView(ctx, "evaluations") },
  { pattern: /^\/p\/([^/]+)\/shared\/([^/]+)\/exports$/, tab: "shared", view: (ctx) => sharedDetailView(ctx, "exports") },
  { pattern: /^\/p\/([^/]+)\/audience$/, tab: "audience", view: audienceView },
  { pattern: /^\/p\/([^/]+)\/profiles$/, tab: "profiles", view: profilesView },
  { pattern: /^\/p\/([^/]+)\/imports$/, tab: "profiles", view: importsView },
];

const TABS = [
  { tab: "segments", label: "Segments", path: "segments" },
  { tab: "shared", label: "Shared Segments", path: "shared", feature: true },
  { tab: "audience", label: "Audience preview", path: "audience" },
  { tab: "profiles", label: "Profiles", path: "profiles" },
];

// Where a person was going when sign-in interrupted them (a deep link, an expired session):
// kept for this tab across the hosted UI's redirect, taken once signed in (issue 17 item 5).
const RETURN = "segshare.return";

// sharedSegments: whether the company has the shared segments feature (probed per project,
// since GET /v1/me does not say); leaveGuard: a screen's "unsaved changes?" question.
const session = { me: null, projectId: null, controller: null, shell: null, sharedSegments: true, leaveGuard: null, hash: "" };

function hashPath() {
  return decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
}

export function projectPath(projectId, ...rest) {
  return `#/p/${encodeURIComponent(projectId)}/${rest.map((r) => encodeURIComponent(r)).join("/")}`;
}

// Stop whatever the previous screen was doing: its requests are aborted and its polls end.
function leaveScreen() {
  session.controller?.abort();
  session.controller = new AbortController();
  return session.controller.signal;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException("left the screen", "AbortError"));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("left the screen", "AbortError"));
      },
      { once: true },
    );
  });
}

// ------------------------------------------------------------------ sign-in

function rememberReturn() {
  if (/^#\/p\//.test(location.hash)) sessionStorage.setItem(RETURN, location.hash);
}

async function showSignIn(message) {
  leaveScreen();
  session.leaveGuard = null;
  session.me = null;
  session.projectId = null;
  session.shell = null;
  document.title = "Sign in · segshare";
  const main = h("main", { id: "main", class: "signin", tabindex: "-1" });
  replace(root, main);
  const card = h("section", { class: "panel signin-card", "aria-labelledby": "signin-title" });
  replace(main, card);
  card.append(
    h("h1", { id: "signin-title", text: "Sign in to segshare" }),
    h("p", { class: "lead", text: "Data › Audiences: segments, sharing, shared segments and audience previews." }),
  );
  if (message) card.append(notice("error", message));
  if (hostedUi()) {
    card.append(h("button", { type: "button", class: "primary", onclick: () => startHostedSignIn(), text: "Sign in" }));
    return;
  }
  const status = loading("Loading the local users…");
  card.append(status);
  const users = await localUsers();
  status.remove();
  if (users.length) {
    card.append(
      h("h2", { text: "Local demo users" }),
      h("p", { class: "muted", text: "The local stack signs these users' tokens; deployed, the Cognito hosted UI signs you in." }),
      h(
        "ul",
        { class: "user-list" },
        users.map((user) =>
          h(
            "li",
            {},
            h(
              "button",
              { type: "button", class: "user-choice", "data-user": user.userId, onclick: () => signInWith(user.token) },
              h("span", { class: "user-label", text: user.label }),
              h("span", { class: "user-id", text: user.userId }),
            ),
          ),
        ),
      ),
    );
  } else {
    card.append(notice("info", "No demo users here: the local stack started empty (SEGSHARE_DEMO=0). Paste a token instead."));
  }
  const field = h("textarea", { id: "paste-token", rows: "3", spellcheck: "false", autocomplete: "off" });
  card.append(
    h(
      "details",
      { class: "paste-token", open: users.length === 0 },
      h("summary", { text: "Use a token" }),
      h(
        "form",
        {
          onsubmit: (event) => {
            event.preventDefault();
            const token = field.value.trim().replace(/^Bearer\s+/i, "");
            if (!claims(token)) {
              card.append(notice("error", "That does not look like a token (three dot-separated parts)."));
              return;
            }
            signInWith(token);
          },
        },
        h("label", { for: "paste-token", text: "Bearer token" }),
        field,
        h("button", { type: "submit", text: "Use token" }),
      ),
    ),
  );
}

async function signInWith(token) {
  useToken(token);
  history.replaceState(null, "", `${location.pathname}${location.search}${sessionStorage.getItem(RETURN) ?? ""}`);
  sessionStorage.removeItem(RETURN);
  await start();
}

// ------------------------------------------------------------------ shell

function renderShell() {
  const me = session.me;
  // A closed <select> changes its value on every arrow key: switching there would make the
  // third project unreachable by keyboard (issue 17 item 2). Arrows only choose; Enter or the
  // Switch button (shown while the choice differs) switches; a pointer pick switches at once.
  const select = h("select", { id: "project-select", "aria-describedby": "project-hint" });
  const switchButton = h("button", { type: "button", class: "ghost small", text: "Switch", hidden: true });
  const hint = h("span", { id: "project-hint", class: "visually-hidden", text: "Arrow keys choose a project, Enter switches to it." });
  let keyed = false;
  const switchTo = () => {
    switchButton.hidden = true;
    if (select.value && select.value !== session.projectId) location.hash = projectPath(select.value, "segments");
  };
  select.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      switchTo();
    } else {
      keyed = true;
    }
  });
  select.addEventListener("pointerdown", () => (keyed = false));
  select.addEventListener("change", () => {
    if (keyed) switchButton.hidden = select.value === session.projectId;
    else switchTo();
  });
  switchButton.addEventListener("click", switchTo);
  select.append(...projectOptions(me.projects));
  const nav = h("ul", { class: "tabs" });
  const main = h("main", { id: "main", tabindex: "-1" });
  replace(
    root,
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/" }, "segshare", h("span", { text: "console" })),
      me.projects.length
        ? h("div", { class: "project-picker" }, h("label", { for: "project-select", text: "Project" }), select, switchButton, hint)
        : null,
      h(
        "div",
        { class: "who" },
        h("span", { class: "who-name", text: me.userId }),
        h("span", { class: "who-role", text: ROLES[me.role] ?? me.role }),
        h("button", { type: "button", class: "ghost", onclick: onSignOut, text: "Sign out" }),
      ),
    ),
    me.projects.length ? h("nav", { class: "tabbar", "aria-label": "Data › Audiences" }, h("span", { class: "crumb", text: "Data › Audiences" }), nav) : null,
    main,
  );
  session.shell = { select, nav, main, switchButton };
}

function projectOptions(projects) {
  return [
    h("option", { value: "", disabled: true, hidden: true, text: "Choose a project" }),
    ...projects.map((p) => h("option", { value: p.projectId, text: p.name })),
  ];
}

function renderTabs(projectId, activeTab) {
  const { nav } = session.shell;
  replace(
    nav,
    TABS.filter((t) => !t.feature || session.sharedSegments).map((t) =>
      h(
        "li",
        {},
        h("a", { href: projectPath(projectId, t.path), "aria-current": t.tab === activeTab ? "page" : null, text: t.label }),
      ),
    ),
  );
}

function onSignOut() {
  if (!mayLeave()) return;
  session.leaveGuard = null;
  sessionStorage.removeItem(RETURN);
  if (!signOut()) {
    history.replaceState(null, "", `${location.pathname}${location.search}`);
    showSignIn();
  }
}

// ------------------------------------------------------------------ routing

// Asks before leaving a screen with unsaved changes (issue 17 item 9); true when leaving is fine.
function mayLeave() {
  const question = session.leaveGuard?.();
  return !question || window.confirm(question);
}

window.addEventListener("beforeunload", (event) => {
  if (session.leaveGuard?.()) event.preventDefault();
});

// Whether the company has shared segments on: the sharing routes answer 403 FEATURE_DISABLED when not.
async function probeFeature(projectId, signal) {
  try {
    await api(`/v1/projects/${encodeURIComponent(projectId)}/shared-segments`, { signal });
    return true;
  } catch (error) {
    if (isAbort(error)) throw error;
    return error.code !== "FEATURE_DISABLED";
  }
}

async function route({ focus = true } = {}) {
  if (!session.shell) return;
  if (session.leaveGuard && location.hash !== session.hash) {
    if (!mayLeave()) {
      // Stay: put the address back without another hashchange.
      history.replaceState(null, "", session.hash || `${location.pathname}${location.search}`);
      session.shell.select.value = session.projectId ?? "";
      return;
    }
  }
  session.leaveGuard = null;
  session.hash = location.hash;
  const signal = leaveScreen();
  const { main, select } = session.shell;
  const me = session.me;
  const path = hashPath();
  if (!me.projects.length) {
    document.title = "segshare";
    replace(
      main,
      h("h1", { text: "No projects" }),
      h("p", {
        text:
          me.role === "operator"
            ? "Operators have no projects of their own: they create companies and turn features on through the API."
            : "You have no projects yet. A company admin grants access to projects.",
      }),
      me.role === "operator" ? h("p", {}, h("a", { href: "/docs", text: "Read the API documentation" })) : null,
    );
    return;
  }
  let found = null;
  for (const r of ROUTES) {
    const match = r.pattern.exec(path);
    if (match) {
      found = { ...r, params: match.slice(1) };
      break;
    }
  }
  if (!found) {
    const fallback = me.projects.some((p) => p.projectId === session.projectId) ? session.projectId : me.projects[0].projectId;
    location.replace(projectPath(fallback, "segments"));
    return;
  }
  const [projectId, ...params] = found.params;
  if (projectId !== session.projectId) {
    // A new project: forget everything of the previous one and re-read the grants.
    session.projectId = projectId;
    replace(main, loading("Loading the project…"));
    try {
      session.me = await api("/v1/me", { signal });
      session.sharedSegments = await probeFeature(projectId, signal);
    } catch (error) {
      if (isAbort(error)) return;
      const { sentence, detail } = describe(error);
      replace(main, notice("error", sentence, detail));
      return;
    }
  }
  const project = session.me.projects.find((p) => p.projectId === projectId);
  if (!project) {
    renderTabs(projectId, null);
    select.value = "";
    replace(main, h("h1", { text: "Project not available" }), notice("error", "You do not have access to this project, or it does not exist. Pick one of yours above."));
    return;
  }
  if ([...select.options].map((o) => o.value).join() !== ["", ...session.me.projects.map((p) => p.projectId)].join()) {
    replace(select, projectOptions(session.me.projects));
  }
  select.value = projectId;
  renderTabs(projectId, found.tab);
  replace(main);
  const ctx = {
    main,
    project,
    me: session.me,
    sharedSegments: session.sharedSegments,
    guardLeaving: (question) => (session.leaveGuard = question),
    params,
    signal,
    api: (p, options = {}) => api(p, { ...options, signal }),
    sleep: (ms) => sleep(ms, signal),
    path: (...rest) => projectPath(projectId, ...rest),
    go: (hash) => (location.hash = hash),
    title: (text) => (document.title = `${text} · ${project.name} · segshare`),
  };
  const focusedBefore = document.activeElement;
  try {
    await found.view(ctx);
    const heading = main.querySelector("h1");
    // The heading takes focus for a screen change, unless the person has already moved on
    // inside the screen while it loaded (a late focus would steal it from their button).
    const untouched = document.activeElement === focusedBefore || !document.activeElement || document.activeElement === document.body;
    if (focus && heading && !signal.aborted && untouched) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  } catch (error) {
    if (isAbort(error) || signal.aborted) return;
    // No spinner may stay above the error, and there is always a way back (issue 17 item 4).
    for (const spinner of main.querySelectorAll(".loading")) spinner.remove();
    const { sentence, detail } = describe(error);
    const tab = TABS.find((t) => t.tab === found.tab && (!t.feature || session.sharedSegments)) ?? TABS[0];
    const shown = notice("error", sentence, detail);
    if (error.code === "FEATURE_DISABLED") shown.append(featureHelp());
    shown.append(h("p", {}, h("a", { href: projectPath(projectId, tab.path), text: `Back to ${tab.label}` })));
    if (!main.querySelector("h1")) main.prepend(h("h1", { text: "This page cannot be shown" }));
    main.append(shown);
    focusOn(shown);
  }
}

// The seed's "Can't see this feature?": who turns shared segments on.
export function featureHelp() {
  return h(
    "details",
    { class: "feature-help" },
    h("summary", { text: "Can't see this feature?" }),
    h("p", { text: "Shared segments are turned on per company by segshare. Ask your company admin to contact us to enable them." }),
  );
}

// ------------------------------------------------------------------ start

async function start() {
  if (!currentToken()) {
    rememberReturn();
    await showSignIn();
    return;
  }
  replace(root, h("main", { id: "main", class: "signin" }, loading("Signing in…")));
  try {
    session.me = await api("/v1/me");
  } catch (error) {
    const { sentence, detail } = describe(error);
    await showSignIn(detail ? `${sentence} ${detail}` : sentence);
    return;
  }
  session.projectId = null;
  const back = sessionStorage.getItem(RETURN);
  sessionStorage.removeItem(RETURN);
  if (back && !/^#\/p\//.test(location.hash)) history.replaceState(null, "", `${location.pathname}${location.search}${back}`);
  renderShell();
  await route({ focus: false });
}

window.addEventListener("hashchange", () => route());
window.addEventListener("segshare:unauthenticated", () => {
  if (session.shell) {
    rememberReturn();
    showSignIn("Your session has ended. Sign in again: you will come back to this page.");
  }
});

let fragmentError = null;
try {
  takeTokenFromFragment();
} catch (error) {
  fragmentError = error.message;
}
if (fragmentError) showSignIn(fragmentError);
else start();
