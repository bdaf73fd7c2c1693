/**
 * Who is on the other end of a connection, as the token verifier established it at the
 * handshake. Services receive this, never the token.
 */
export interface Principal {
  /** A stable name for the holder; it appears in logs, so it must never be the token. */
  readonly subject: string;
  /** What the holder may do; handlers can require some with `@RequireScopes()`. */
  readonly scopes: readonly string[];
  /** When the credential stops being valid, in ms since the epoch; absent: never. */
  readonly expiresAt?: number;
  /** The verifier's raw claims (for JWTs, the payload), for handlers that need more. */
  readonly claims?: Readonly<Record<string, unknown>>;
}
