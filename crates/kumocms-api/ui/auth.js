// Signing in: with an API key (checked by one listing call), or, when the
// deployment uses Cognito, through the hosted UI with the authorization-code flow
// and PKCE (RFC 7636). Which one comes from the open `ui/config.json` route.

import { API_BASE, ApiError, get, setCredential } from "./api.js";

const PKCE = "kumocms.pkce";

/** What the server says about signing in: `{auth: "api_key"}` or `{auth: "cognito", cognito: {...}}`. */
export async function loadConfig() {
  try {
    const response = await fetch(`${API_BASE}/ui/config.json`, { cache: "no-store" });
    if (response.ok) return await response.json();
  } catch {
    // Fall back to a key: the API still says whether it is right.
  }
  return { auth: "api_key" };
}

/** Checks a key with one listing call; stores it only when the API accepts it. */
export async function signInWithKey(key) {
  const trimmed = key.trim();
  if (!trimmed) throw new ApiError(400, "missing_key", "Enter the API key.");
  await get("/documents", { query: [["limit", "1"]], key: trimmed });
  setCredential(trimmed);
}

function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri() {
  return location.origin + location.pathname;
}

/** Sends the browser to the Cognito hosted UI. */
export async function startCognito(cognito) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const url = new URL(`${cognito.domain.replace(/\/$/, "")}/oauth2/authorize`);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cognito.client_id);
  url.searchParams.set("redirect_uri", redirectUri());
  url.searchParams.set("scope", (cognito.scopes || ["openid"]).join(" "));
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("code_challenge", challenge);
  location.assign(url);
}

/**
 * Back from the hosted UI with `?code=…&state=…`: exchanges the code for tokens,
 * keeps the ID token as the credential, and takes the code out of the address bar.
 * Returns true when it signed in.
 */
export async function finishCognito(cognito) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code) return false;
  history.replaceState(null, "", location.pathname + location.hash);
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  if (!saved || saved.state !== params.get("state")) {
    throw new ApiError(400, "invalid_state", "The sign-in answer did not match this browser's request. Sign in again.");
  }
  const response = await fetch(`${cognito.domain.replace(/\/$/, "")}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: cognito.client_id,
      code,
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.id_token) {
    throw new ApiError(response.status, tokens.error || "token_error", "Cognito did not sign you in. Try again.");
  }
  setCredential(tokens.id_token);
  return true;
}
