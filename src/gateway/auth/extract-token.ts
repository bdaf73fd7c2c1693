/** What the handshake request offers as credentials, as plain values. */
export interface HandshakeCredentials {
  /** The `Authorization` header, if any. */
  authorization?: string;
  /** The request target (path and query), where browsers put `?token=`. */
  url?: string;
}

/** The header was present but is neither `Bearer <token>` nor a bare token. */
export const MALFORMED = Symbol('malformed authorization');

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const BARE = /^\S+$/;
// "Bearer" with no token after it is a broken header, not a bare token spelled "Bearer".
const SCHEME_ONLY = /^Bearer$/i;

/**
 * Finds the token: `Authorization: Bearer <token>`, else a bare `Authorization: <token>` (what
 * the python-websockets tutorial's client sends), else the `token` query parameter (browsers
 * cannot set headers on a WebSocket). Returns {@link MALFORMED} for an unusable header such as
 * `Basic ...`, rather than falling back to the query string behind the client's back.
 */
export function extractToken(
  credentials: HandshakeCredentials,
): string | typeof MALFORMED | undefined {
  const header = credentials.authorization?.trim();
  if (header) {
    const bearer = BEARER.exec(header);
    if (bearer) return bearer[1];
    if (BARE.test(header) && !SCHEME_ONLY.test(header)) return header;
    return MALFORMED;
  }
  const url = credentials.url;
  const q = url ? url.indexOf('?') : -1;
  if (url && q !== -1) {
    const token = new URLSearchParams(url.slice(q + 1)).get('token');
    if (token) return token;
  }
  return undefined;
}
