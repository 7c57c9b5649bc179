// Talking to the server: JSON requests whose errors carry the server's one-line message.
export class ApiError extends Error {
  constructor(message, field, status) {
    super(message);
    this.field = field;
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers['content-type'] = 'application/json';
    delete init.json;
  }
  const r = await fetch(path, init);
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) throw new ApiError((body && body.error) || `HTTP ${r.status}`, body && body.field, r.status);
  return body;
}

export const utc = (ts) => (ts ? new Date(ts * 1000).toISOString().slice(11, 19) : '');
export const pct = (x) => `${Math.round(x * 100)}%`;

export function showError(el, err) {
  el.textContent = err ? (err.message || String(err)) : '';
  el.hidden = !err;
}

export function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// One colour per drone / segment, as in `groundctl plan --preview`.
export const COLOURS = ['#e62828', '#ffa000', '#00c8c8', '#3cb43c', '#00a0c8', '#3c3cc8', '#b43cb4', '#6e6e6e'];
export const colour = (i) => COLOURS[((i % COLOURS.length) + COLOURS.length) % COLOURS.length];
