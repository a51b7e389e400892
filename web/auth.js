// Who is signed in. Deployed: an id_token from the Cognito hosted UI (implicit grant, read from
// the URL fragment). Locally: a demo user picked from the local stack's GET /local/users.
// The token lives in sessionStorage: one browser tab, gone when the tab closes.

import config from "./config.js";

const TOKEN = "segshare.token";
const STATE = "segshare.oauth.state";
const NONCE = "segshare.oauth.nonce";

export function claims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      [...atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))]
        .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
        .join(""),
    );
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function expired(token) {
  const exp = claims(token)?.exp;
  return typeof exp === "number" && exp * 1000 <= Date.now();
}

export function currentToken() {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) return null;
  if (expired(token)) {
    sessionStorage.removeItem(TOKEN);
    return null;
  }
  return token;
}

export function useToken(token) {
  sessionStorage.setItem(TOKEN, token);
}

export function hostedUi() {
  const cognito = config.cognito;
  return cognito && cognito.domain && cognito.clientId ? cognito : null;
}

function randomString() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function redirectUri(cognito) {
  return cognito.redirectUri || `${location.origin}${location.pathname}`;
}

export function startHostedSignIn() {
  const cognito = hostedUi();
  const state = randomString();
  const nonce = randomString();
  sessionStorage.setItem(STATE, state);
  sessionStorage.setItem(NONCE, nonce);
  const params = new URLSearchParams({
    response_type: "token",
    client_id: cognito.clientId,
    redirect_uri: redirectUri(cognito),
    scope: (cognito.scopes ?? ["openid"]).join(" "),
    state,
    nonce,
  });
  location.assign(`${cognito.domain.replace(/\/$/, "")}/oauth2/authorize?${params}`);
}

// After the hosted UI redirects back: take the id_token out of the fragment (and out of the
// address bar and history). Returns true when a token was taken; throws when the answer is
// an error or does not belong to the sign-in this tab started.
export function takeTokenFromFragment() {
  const fragment = location.hash.replace(/^#/, "");
  if (!/(^|&)(id_token|error)=/.test(fragment)) return false;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  const params = new URLSearchParams(fragment);
  const expectedState = sessionStorage.getItem(STATE);
  const expectedNonce = sessionStorage.getItem(NONCE);
  sessionStorage.removeItem(STATE);
  sessionStorage.removeItem(NONCE);
  if (params.get("error")) {
    throw new Error(`The sign-in page answered: ${params.get("error_description") || params.get("error")}`);
  }
  const token = params.get("id_token");
  if (!expectedState || params.get("state") !== expectedState) {
    throw new Error("The sign-in answer did not match a sign-in started in this tab. Sign in again.");
  }
  if (!token || claims(token)?.nonce !== expectedNonce) {
    throw new Error("The sign-in answer did not carry a valid token. Sign in again.");
  }
  useToken(token);
  return true;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  const cognito = hostedUi();
  if (cognito) {
    const params = new URLSearchParams({ client_id: cognito.clientId, logout_uri: cognito.logoutUri || redirectUri(cognito) });
    location.assign(`${cognito.domain.replace(/\/$/, "")}/logout?${params}`);
    return true;
  }
  return false;
}

// The local stack's demo users; [] when the route is absent (deployed) or the stack started empty.
export async function localUsers() {
  try {
    const response = await fetch("/local/users", { cache: "no-store", credentials: "omit" });
    if (!response.ok) return [];
    const users = await response.json();
    return Array.isArray(users) ? users : [];
  } catch {
    return [];
  }
}
