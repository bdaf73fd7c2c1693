import type { Principal } from './principal.js';
import type { TokenVerifier } from './token-verifier.js';

/**
 * Accepts a token that any of several verifiers accepts, asking them in order (put the cheap
 * ones first: static tokens before JWTs). A verifier that throws does not hide a later one that
 * accepts; when none accepts and one threw, the first error is thrown again (the handshake
 * answers 503: that verifier could not decide).
 */
export class CompositeVerifier implements TokenVerifier {
  private readonly verifiers: readonly TokenVerifier[];

  constructor(verifiers: readonly TokenVerifier[]) {
    this.verifiers = [...verifiers];
  }

  async verify(token: string): Promise<Principal | null> {
    let failure: { error: unknown } | undefined;
    for (const verifier of this.verifiers) {
      try {
        const principal = await verifier.verify(token);
        if (principal) return principal;
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    return null;
  }
}
