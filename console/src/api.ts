import type { ErrorBody, Session } from './types';

const BASE = '/console/api';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from Retry-After, when the server gave one. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// The CSRF value lives in memory only: a reload asks /session for it again, so it is never in
// storage where another script on the origin could read it later.
let csrf = '';
let unauthorized: () => void = () => {};

export function setCsrf(value: string): void {
  csrf = value;
}

/** What to do when the server says the session is gone: the app goes back to the login. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at)
    ? undefined
    : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

interface Options {
  signal?: AbortSignal;
  /** The login's own 401 means a wrong secret, not a lost session. */
  keepOn401?: boolean;
}

async function request<T>(
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  options: Options,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  const init: RequestInit = {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    signal: options.signal,
  };
  if (method === 'POST') init.body = JSON.stringify(body ?? {});
  let res: Response;
  try {
    res = await fetch(BASE + path, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'The gateway does not answer');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const error = (parsed as { error?: ErrorBody } | undefined)?.error;
    const err = new ApiError(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? (res.statusText || `HTTP ${res.status}`),
      retryAfterSeconds(res.headers.get('Retry-After')),
    );
    if (res.status === 401 && !options.keepOn401) unauthorized();
    throw err;
  }
  return parsed as T;
}

export function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', path, undefined, { signal });
}

export function post<T>(path: string, body?: unknown): Promise<T> {
  return request<T>('POST', path, body, {});
}

export function login(token: string): Promise<Session> {
  return request<Session>('POST', '/login', { token }, { keepOn401: true });
}

export function session(): Promise<Session> {
  return request<Session>('GET', '/session', undefined, { keepOn401: true });
}

export function query(
  params: Record<string, string | number | undefined>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
