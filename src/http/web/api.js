// The management API from the browser: HTTP basic credentials kept in
// sessionStorage (gone when the tab closes), JSON in and out, RabbitMQ's error
// bodies turned into ApiError. A 401 anywhere sends the user back to login.

const KEY = 'wharf.auth';

export class ApiError extends Error {
  constructor(status, error, reason) {
    super(reason || error || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function credentials() {
  const raw = sessionStorage.getItem(KEY);
  return raw ? JSON.parse(raw) : null;
}

export function saveCredentials(user, token) {
  sessionStorage.setItem(KEY, JSON.stringify({ user, token }));
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

/** base64 of user:password as UTF-8 (btoa alone fails on non-Latin-1 passwords). */
export function basicToken(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** One request; `token` overrides the stored credentials (login). */
export async function api(method, path, body, token) {
  const auth = token ?? credentials()?.token;
  const headers = { 'x-requested-with': 'XMLHttpRequest' };
  if (auth) headers.authorization = `Basic ${auth}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && token === undefined) onUnauthorized();
    throw new ApiError(res.status, json?.error, json?.reason);
  }
  return json;
}

export const apiGet = (path) => api('GET', path);

/** A GET that answers null on 404, for routes this broker may not have. */
export async function apiGetOptional(path) {
  try {
    return await api('GET', path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/** A human sentence for an error, for toasts. */
export function describe(e) {
  if (e instanceof ApiError) {
    if (e.status === 405) return 'This broker does not support that action yet (405).';
    return `${e.status}: ${e.reason || e.error || 'request failed'}`;
  }
  return String(e?.message ?? e);
}
