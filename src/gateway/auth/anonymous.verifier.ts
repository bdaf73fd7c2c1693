import type { Principal } from './principal.js';
import type { TokenVerifier } from './token-verifier.js';

/** The principal of every connection when authentication is explicitly disabled. */
export const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  scopes: Object.freeze([]) as readonly string[],
});

/** Accepts any handshake, token or not. Only used with `auth.disabled: true`. */
export class AnonymousVerifier implements TokenVerifier {
  verify(): Principal {
    return ANONYMOUS;
  }
}
