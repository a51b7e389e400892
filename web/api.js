// The documented HTTP API (relative /v1 URLs, bearer token) and its errors put into words.

import { currentToken } from "./auth.js";

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.detail = message;
    this.extra = extra;
  }
}

const SENTENCES = {
  UNAUTHENTICATED: "You are not signed in, or your session has expired. Sign in again.",
  FORBIDDEN: "You are not allowed to do this.",
  FEATURE_DISABLED: "Shared segments are not turned on for this company. Contact us to enable the feature.",
  NOT_FOUND: "This no longer exists, or you do not have access to it.",
  VERSION_CONFLICT: "Someone else changed this while you were editing it. Reload to see the latest version, then try again.",
  CONFLICT: "This conflicts with the current state. Reload and try again.",
  SEGMENT_SHARED: "This segment is shared with other projects, so it cannot simply be deleted.",
  CANNOT_RESHARE: "A segment that was shared into this project cannot be shared on to other projects.",
  ALREADY_EXISTS: "Something with this id already exists. Choose another.",
  NOT_EVALUATED: "A shared segment in this selection has not been evaluated yet. Evaluate it on the Shared Segments tab first.",
  VALIDATION_ERROR: "Some of the values entered are not valid.",
  INVALID_RULE: "The segment's rule is not valid.",
  INVALID_TARGET: "A segment cannot be shared with the project it belongs to.",
  TOO_MANY_CHANGES: "Too many sharing changes at once. Save a smaller change first.",
  INVALID_CURSOR: "The list could not be continued. Reload it and try again.",
  MALFORMED_JSON: "The request could not be read by the server.",
  BAD_REQUEST: "The request could not be understood by the server.",
  TOO_LARGE: "The request is too large.",
  RETRY_LATER: "The service is busy right now. Try again in a moment.",
  INTERNAL: "Something went wrong on the server. Try again; if it keeps happening, contact support.",
  NETWORK: "The server could not be reached. Check your connection and try again.",
};

const BY_STATUS = {
  400: "BAD_REQUEST",
  401: "UNAUTHENTICATED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "TOO_LARGE",
  422: "VALIDATION_ERROR",
  429: "RETRY_LATER",
  503: "RETRY_LATER",
};

// { sentence, detail } for a person: never a bare error code.
export function describe(error) {
  if (error instanceof ApiError) {
    const sentence =
      SENTENCES[error.code] ?? SENTENCES[BY_STATUS[error.status]] ?? (error.status >= 500 ? SENTENCES.INTERNAL : SENTENCES.BAD_REQUEST);
    const detail = error.detail && error.detail !== error.code ? `Details: ${error.detail}` : "";
    return { sentence, detail };
  }
  return { sentence: "Something went wrong in the page. Reload it and try again.", detail: String(error?.message ?? "") };
}

export function isAbort(error) {
  return error?.name === "AbortError";
}

export async function api(path, { method = "GET", body, query, signal } = {}) {
  const token = currentToken();
  if (!token) {
    window.dispatchEvent(new CustomEvent("segshare:unauthenticated"));
    throw new ApiError(401, "UNAUTHENTICATED", "");
  }
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let url = path;
  if (query) {
    const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""));
    if ([...params].length) url += `?${params}`;
  }
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, "NETWORK", "");
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
  }
  if (!response.ok) {
    const { code, message, ...extra } = data?.error ?? {};
    if (response.status === 401) window.dispatchEvent(new CustomEvent("segshare:unauthenticated"));
    throw new ApiError(response.status, code ?? BY_STATUS[response.status] ?? "INTERNAL", message ?? "", extra);
  }
  return data;
}
