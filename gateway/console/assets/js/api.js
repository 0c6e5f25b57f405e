// Calls to the gateway's API with the console session: the cookie goes by itself (HttpOnly, the page
// never sees it); every request adds the session's anti-CSRF token, which only this page knows.
import { el } from './dom.js';
import { t } from './i18n.js';

let csrfToken = '';

export function setCsrfToken(token) {
  csrfToken = token ?? '';
}

export class ProblemError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
  get type() {
    return String(this.problem.type ?? '').replace('https://silobridge.dev/problems/', '');
  }
}

/** Resolves with the JSON answer (or the Response when `raw`); rejects with a ProblemError. */
export async function api(path, { method = 'GET', body, query, raw = false } = {}) {
  const search = query
    ? new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined && value !== ''))
    : undefined;
  const url = search && [...search].length > 0 ? `${path}?${search}` : path;
  // Which session this request belongs to: a 401 for a request of an earlier session (still in
  // flight when the officer signed out and in again) must not end the current one.
  const sentWith = csrfToken;
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      'X-CSRF-Token': csrfToken,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = { title: `HTTP ${response.status}` };
    }
    const error = new ProblemError(problem, response.status);
    if (response.status === 401 && sentWith === csrfToken) {
      document.dispatchEvent(new CustomEvent('console:session-ended'));
    }
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Shows a failed request where the officer will look: each `errors` entry next to its field (the
 * field whose data-field is `prefix-<name>`), everything else in the form's message area.
 */
export function showError(form, error, prefix) {
  clearErrors(form);
  const message = form.querySelector('.form-message');
  if (!(error instanceof ProblemError)) {
    if (message) message.textContent = t('error') + String(error?.message ?? error);
    return;
  }
  const unplaced = [];
  let first;
  for (const item of error.problem.errors ?? []) {
    const name = String(item.pointer ?? item.name ?? '')
      .replace(/^\//, '')
      .split('/')[0];
    const box = form.querySelector(`[data-field="${prefix}-${name}"]`);
    const slot = box?.querySelector('.field-error');
    if (!box || !slot) {
      unplaced.push(`${name}: ${item.reason}`);
      continue;
    }
    slot.textContent = item.reason;
    const control = box.querySelector('input, select, textarea');
    control?.setAttribute('aria-invalid', 'true');
    first ??= control;
  }
  if (message) {
    const placed = (error.problem.errors ?? []).length > unplaced.length;
    message.textContent = placed && unplaced.length === 0 ? t('fixFields') : t('error') + error.message;
    if (unplaced.length > 0) message.append(el('span', {}, ` (${unplaced.join('; ')})`));
  }
  first?.focus();
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  const message = form.querySelector('.form-message');
  if (message) message.textContent = '';
}

/** A date (YYYY-MM-DD, the browser's midnight) or an RFC 3339 time as the officer typed it. */
export function timeParam(value) {
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const date = new Date(`${text}T00:00:00`);
    if (Number.isNaN(date.getTime())) return text;
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? '+' : '-';
    const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
    const minutes = String(Math.abs(offset) % 60).padStart(2, '0');
    return `${text}T00:00:00${sign}${hours}:${minutes}`;
  }
  return text;
}
