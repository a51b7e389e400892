// The console: sign-in, the project picker, the tabs and a hash router. Every screen is
// fetched fresh from the API when it is shown; nothing is kept across projects or users.

import { api, describe, isAbort } from "./api.js";
import { claims, currentToken, hostedUi, localUsers, signOut, startHostedSignIn, takeTokenFromFragment, useToken } from "./auth.js";
import { audienceView } from "./audience.js";
import { h, loading, notice, replace } from "./dom.js";
import { segmentView, segmentsView } from "./segments.js";
import { sharedDetailView, sharedListView } from "./shared.js";

const root = document.getElementById("app");

const ROLES = { operator: "operator", company_admin: "company admin", project_admin: "project admin" };

const ROUTES = [
  { pattern: /^\/p\/([^/]+)\/segments$/, tab: "segments", view: segmentsView },
  { pattern: /^\/p\/([^/]+)\/segments\/([^/]+)$/, tab: "segments", view: (ctx) => segmentView(ctx, "overview") },
  { pattern: /^\/p\/([^/]+)\/segments\/([^/]+)\/sharing$/, tab: "segments", view: (ctx) => segmentView(ctx, "sharing") },
  { pattern: /^\/p\/([^/]+)\/shared$/, tab: "shared", view: sharedListView },
  { pattern: /^\/p\/([^/]+)\/shared\/([^/]+)$/, tab: "shared", view: (ctx) => sharedDetailView(ctx, "evaluations") },
  { pattern: /^\/p\/([^/]+)\/shared\/([^/]+)\/exports$/, tab: "shared", view: (ctx) => sharedDetailView(ctx, "exports") },
  { pattern: /^\/p\/([^/]+)\/audience$/, tab: "audience", view: audienceView },
];

const TABS = [
  { tab: "segments", label: "Segments", path: "segments" },
  { tab: "shared", label: "Shared Segments", path: "shared" },
  { tab: "audience", label: "Audience preview", path: "audience" },
];

const session = { me: null, projectId: null, controller: null, shell: null };

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

async function showSignIn(message) {
  leaveScreen();
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
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  await start();
}

// ------------------------------------------------------------------ shell

function renderShell() {
  const me = session.me;
  const select = h("select", { id: "project-select", onchange: () => (location.hash = projectPath(select.value, "segments")) });
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
        ? h("div", { class: "project-picker" }, h("label", { for: "project-select", text: "Project" }), select)
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
  session.shell = { select, nav, main };
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
    TABS.map((t) =>
      h(
        "li",
        {},
        h("a", { href: projectPath(projectId, t.path), "aria-current": t.tab === activeTab ? "page" : null, text: t.label }),
      ),
    ),
  );
}

function onSignOut() {
  if (!signOut()) {
    history.replaceState(null, "", `${location.pathname}${location.search}`);
    showSignIn();
  }
}

// ------------------------------------------------------------------ routing

async function route({ focus = true } = {}) {
  if (!session.shell) return;
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
            ? "Operators have no projects of their own: they create companies and turn features on through the API (see /docs)."
            : "You have no projects yet. A company admin grants access to projects.",
      }),
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
    params,
    signal,
    api: (p, options = {}) => api(p, { ...options, signal }),
    sleep: (ms) => sleep(ms, signal),
    path: (...rest) => projectPath(projectId, ...rest),
    go: (hash) => (location.hash = hash),
    title: (text) => (document.title = `${text} · ${project.name} · segshare`),
  };
  try {
    await found.view(ctx);
    const heading = main.querySelector("h1");
    if (focus && heading && !signal.aborted) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  } catch (error) {
    if (isAbort(error) || signal.aborted) return;
    const { sentence, detail } = describe(error);
    main.append(notice("error", sentence, detail));
  }
}

// ------------------------------------------------------------------ start

async function start() {
  if (!currentToken()) {
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
  renderShell();
  await route({ focus: false });
}

window.addEventListener("hashchange", () => route());
window.addEventListener("segshare:unauthenticated", () => {
  if (session.shell) showSignIn("Your session has ended. Sign in again.");
});

let fragmentError = null;
try {
  takeTokenFromFragment();
} catch (error) {
  fragmentError = error.message;
}
if (fragmentError) showSignIn(fragmentError);
else start();
