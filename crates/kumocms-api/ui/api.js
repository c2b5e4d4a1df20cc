// The public KumoCMS API, as any client uses it. The credential lives in
// sessionStorage only (gone when the tab closes), is sent only in the
// Authorization header, and never goes into a URL, a log or localStorage.

const CREDENTIAL = "kumocms.credential";

/** The API's base: where this interface is served from, less `/ui/…`. */
export const API_BASE = (() => {
  const path = location.pathname;
  const at = path.lastIndexOf("/ui/");
  const base = at >= 0 ? path.slice(0, at) : path.replace(/\/ui$/, "");
  return location.origin + base;
})();

/** An error answer of the API (or of the network), with its stable code. */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function credential() {
  return sessionStorage.getItem(CREDENTIAL);
}

export function setCredential(value) {
  sessionStorage.setItem(CREDENTIAL, value);
}

export function forgetCredential() {
  sessionStorage.removeItem(CREDENTIAL);
}

/** Called when the API refuses the credential (401): the app signs out. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * One API call. `body` is sent as JSON; `headers` adds to the Authorization
 * header. Resolves to `{status, headers, body}`; rejects with ApiError for any
 * status outside 2xx/3xx (304 included as success).
 */
export async function call(method, path, { body, headers = {}, query, key } = {}) {
  const url = new URL(API_BASE + path);
  for (const [name, value] of query || []) {
    url.searchParams.append(name, value);
  }
  const secret = key ?? credential();
  const init = { method, headers: { ...headers }, redirect: "manual" };
  if (secret) init.headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "network_error", `The server could not be reached (${error.message}).`);
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (response.ok || response.status === 304 || response.type === "opaqueredirect") {
    return { status: response.status, headers: response.headers, body: parsed };
  }
  const code = (parsed && parsed.error) || `http_${response.status}`;
  const message = (parsed && parsed.message) || `The server answered ${response.status}.`;
  if (response.status === 401 && !key) onUnauthorized();
  throw new ApiError(response.status, code, message, parsed);
}

export const get = (path, options) => call("GET", path, options);
export const post = (path, body, options = {}) => call("POST", path, { ...options, body });

/** A path segment, escaped. */
export const seg = (value) => encodeURIComponent(String(value));
