// What the box's pages share (kiosk, counter, call screen, console, status, first-run setup):
// element look-up, the JSON API call, the staff login form and the live WebSocket with its
// reconnect. Plain ES module, no build step; served at /lib/page.js by the agent and the
// first-run page's server alike.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Every element under `root` matching `selector`, as an array. */
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A refusal from the box: `status`, the server's `error` text as the message, its `code` and the whole `body`. */
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
    // The box's refusal kind where it gives one (the kiosk's QR_UNREADABLE…).
    this.code = typeof body?.code === 'string' ? body.code : undefined;
  }
}

/**
 * A call to the box's API: `body` (any value) is sent as JSON; the answer comes back parsed
 * (JSON, else its text). A refusal throws an ApiError; a network failure fetch's own TypeError.
 */
export async function api(path, { method, body, headers } = {}) {
  const res = await fetch(path, {
    ...(method ? { method } : {}),
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json().catch(() => ({})) : await res.text().catch(() => '');
  if (!res.ok) throw new ApiError(typeof data?.error === 'string' && data.error ? data.error : `HTTP ${res.status}`, res.status, data);
  return data;
}

/**
 * The staff login form (fields `user` and `password`) → POST /api/login. A wrong name or
 * password (401) shows `wrongText()` in `error`, another refusal the server's text; the
 * account ({ user, role, … }) goes to `onLogin`. `onSubmit` runs first.
 */
export function login(form, { error, wrongText, onSubmit, onLogin }) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    onSubmit?.();
    const f = new FormData(form);
    let account;
    try {
      account = await api('/api/login', { method: 'POST', body: { user: f.get('user'), password: f.get('password') } });
    } catch (err) {
      error.textContent = err.status === 401 ? wrongText() : err.message;
      return;
    }
    error.textContent = '';
    await onLogin(account);
  });
}

/** Ends the session (POST /api/logout); a box that does not answer changes nothing here. */
export const logout = () => fetch('/api/logout', { method: 'POST' }).catch(() => undefined);

/**
 * A WebSocket to `path` on this box (ws: or wss: as the page), opened again `backoff` ms after
 * it closes (a number, or a function of the count of closes in a row). `onMessage` gets each
 * message parsed from JSON; `onClose` returning false stops the reconnect. The handle's
 * `downSince` is when the link went down (the page's start counts), 0 while it is up.
 */
export function liveSocket(path, { onMessage, onOpen, onClose, backoff = 2000 } = {}) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const live = { socket: null, downSince: Date.now() };
  let closes = 0;
  const connect = () => {
    const ws = new WebSocket(url);
    live.socket = ws;
    ws.onopen = () => {
      closes = 0;
      live.downSince = 0;
      onOpen?.(ws);
    };
    ws.onmessage = (m) => onMessage?.(JSON.parse(m.data));
    ws.onclose = () => {
      closes++;
      if (!live.downSince) live.downSince = Date.now();
      if (onClose?.() === false) return;
      setTimeout(connect, typeof backoff === 'function' ? backoff(closes) : backoff);
    };
  };
  connect();
  return live;
}
