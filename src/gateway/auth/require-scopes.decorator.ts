import { SetMetadata } from '@nestjs/common';

/** Metadata key under which {@link RequireScopes} stores a handler's or a class's scopes. */
export const REQUIRED_SCOPES = 'gateway:required-scopes';

/**
 * Restricts a message handler (or every handler of a gateway class) to principals holding every
 * listed scope; `WsAuthGuard` answers others with `FORBIDDEN`, naming what is missing. Scopes
 * on the class and on the method add up.
 *
 * Scopes come from the token verifier: JWTs give theirs from `scope`, `scp` and `roles`; static
 * tokens and the anonymous principal have none, so such handlers need JWTs (or a verifier of
 * your own).
 */
export const RequireScopes = (...scopes: string[]) =>
  SetMetadata(REQUIRED_SCOPES, scopes);
