// HTTP client for the pingan API: bearer token, JSON, and the contract's error shape
// `{"error":{"code","message","field"}}` turned into ApiError so screens can show it.

import type { KeyValueStore } from './i18n';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'pingan.token';

function sessionStore(): KeyValueStore & { removeItem(k: string): void } | null {
  try { return typeof sessionStorage === 'undefined' ? null : sessionStorage; } catch { return null; }
}

export function getToken(): string | null { return sessionStore()?.getItem(TOKEN_KEY) ?? null; }
export function setToken(token: string | null): void {
  const s = sessionStore();
  if (!s) return;
  if (token) s.setItem(TOKEN_KEY, token); else s.removeItem(TOKEN_KEY);
}

/** Called on any 401 so the app can return to the login page. */
let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(f: () => void): void { onUnauthorized = f; }

/** Builds a query string, skipping empty values so filters left blank are not sent. */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Parses an error body; non-JSON bodies (proxies, 404 pages) become a generic code. */
export async function errorFrom(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let field: string | null = null;
  try {
    const text = await res.text();
    if (text) {
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string | null } };
        if (body.error) {
          code = body.error.code ?? code;
          message = body.error.message ?? message;
          field = body.error.field ?? null;
        }
      } catch {
        message = text.slice(0, 200);
      }
    }
  } catch { /* body unreadable: keep the status line */ }
  return new ApiError(res.status, code, message, field);
}

export interface RequestOptions { method?: string; body?: unknown; purpose?: string; auth?: boolean; accept?: string }

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (token && opts.auth !== false) headers.Authorization = `Bearer ${token}`;
  // The purpose header is sent verbatim; non-ASCII is percent-encoded because header values are bytes.
  if (opts.purpose) headers['X-Purpose'] = /^[\x20-\x7e]*$/.test(opts.purpose) ? opts.purpose : encodeURIComponent(opts.purpose);
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && opts.auth !== false) onUnauthorized?.();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('Content-Type') ?? '';
  if (type.includes('json')) return (await res.json()) as T;
  return (await res.text()) as unknown as T;
}

export const get = <T>(path: string, purpose?: string) => request<T>(path, { purpose });

/**
 * Standing purposes for reads the console makes on the operator's behalf (the server audits
 * them): the alert inbox and map layers read alerts to triage them; the watch list is read to
 * review active watches. Searches and profiles ask the operator for a purpose instead.
 */
export const PURPOSE = { alerts: 'alert triage', watches: 'watch review' } as const;
export const post = <T>(path: string, body: unknown = {}) => request<T>(path, { method: 'POST', body });

/** Largest page the server hands out (`limit` must be within 1..=1000). */
export const MAX_PAGE = 1000;

/**
 * Reads every item of a paged list (up to `cap`): the first page tells the total, the rest
 * are fetched in parallel. `path` may already carry a query string.
 */
export async function getAll<T>(path: string, cap = 10_000, purpose?: string): Promise<T[]> {
  const sep = path.includes('?') ? '&' : '?';
  const first = await get<{ items: T[]; total: number }>(`${path}${sep}limit=${MAX_PAGE}&offset=0`, purpose);
  const total = Math.min(first.total ?? first.items.length, cap);
  const offsets: number[] = [];
  for (let o = MAX_PAGE; o < total; o += MAX_PAGE) offsets.push(o);
  const rest = await Promise.all(offsets.map((o) => get<{ items: T[] }>(`${path}${sep}limit=${MAX_PAGE}&offset=${o}`, purpose)));
  return [first.items, ...rest.map((r) => r.items)].flat().slice(0, cap);
}
