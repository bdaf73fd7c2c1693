import type { Principal } from './principal.js';

/**
 * Turns a bearer token into a principal. Return `null` for a token that is not valid (the
 * handshake gets 401); throw when the verifier itself cannot decide (an unreachable key
 * server: the handshake gets 503, and the error is logged).
 *
 * Provide your own under {@link TOKEN_VERIFIER} to check API keys in a database, OAuth
 * introspection, and so on.
 */
export interface TokenVerifier {
  verify(token: string): Promise<Principal | null> | Principal | null;
}

/** Injection token of the {@link TokenVerifier} the handshake uses. */
export const TOKEN_VERIFIER = Symbol('TOKEN_VERIFIER');
