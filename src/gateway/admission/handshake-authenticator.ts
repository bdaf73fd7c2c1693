import { Inject, Injectable, Logger } from '@nestjs/common';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { ANONYMOUS } from '../auth/anonymous.verifier.js';
import {
  extractToken,
  MALFORMED,
  type HandshakeCredentials,
} from '../auth/extract-token.js';
import type { Principal } from '../auth/principal.js';
import { TOKEN_VERIFIER, type TokenVerifier } from '../auth/token-verifier.js';

/** Why a handshake was refused; also the label of the rejection metric. */
export type HandshakeRejectionReason =
  | 'missing_token'
  | 'malformed_authorization'
  | 'invalid_token'
  | 'verifier_error'
  | 'origin'
  | 'capacity'
  | 'address_limit'
  | 'principal_limit';

/** A refused handshake: the HTTP status and headers to answer with. No socket is opened. */
export interface HandshakeRejection {
  status: 401 | 403 | 429 | 503;
  reason: HandshakeRejectionReason;
  headers: Record<string, string>;
}

export type HandshakeOutcome =
  | { principal: Principal; rejection?: undefined }
  | { principal?: undefined; rejection: HandshakeRejection };

const isPromiseLike = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof (value as PromiseLike<T> | null)?.then === 'function';

const REALM = 'Bearer realm="gateway"';

function reject(reason: HandshakeRejectionReason): HandshakeOutcome {
  if (reason === 'verifier_error') {
    return {
      rejection: { status: 503, reason, headers: { 'Retry-After': '5' } },
    };
  }
  // RFC 6750: no error attribute when no credentials were sent at all.
  const challenge =
    reason === 'missing_token' ? REALM : `${REALM}, error="invalid_token"`;
  return {
    rejection: {
      status: 401,
      reason,
      headers: { 'WWW-Authenticate': challenge },
    },
  };
}

/**
 * Decides at the upgrade request, before any socket exists, who the client is. Knows nothing
 * of sockets: it takes the header and URL and returns a principal or a rejection.
 */
@Injectable()
export class HandshakeAuthenticator {
  private readonly logger = new Logger(HandshakeAuthenticator.name);
  /** Verifier failures since the last line logged, and when that was. */
  private suppressed = 0;
  private lastReportAt = 0;

  constructor(
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {}

  /**
   * The outcome, synchronously when the verifier answers synchronously (static tokens): no
   * promise, and ws writes the 101 in the same turn as it parsed the request.
   */
  authenticate(
    credentials: HandshakeCredentials,
  ): HandshakeOutcome | Promise<HandshakeOutcome> {
    if (this.options.auth.disabled) return { principal: ANONYMOUS };
    const token = extractToken(credentials);
    if (token === undefined) return reject('missing_token');
    if (token === MALFORMED) return reject('malformed_authorization');
    let verdict: Principal | null | Promise<Principal | null>;
    try {
      verdict = this.verifier.verify(token);
    } catch (err) {
      return this.verifierFailed(err);
    }
    return isPromiseLike(verdict)
      ? Promise.resolve(verdict).then(
          (principal) => this.decide(principal),
          (err: unknown) => this.verifierFailed(err),
        )
      : this.decide(verdict);
  }

  private decide(principal: Principal | null): HandshakeOutcome {
    if (!principal) return reject('invalid_token');
    if (
      principal.expiresAt !== undefined &&
      principal.expiresAt <= Date.now()
    ) {
      return reject('invalid_token');
    }
    return { principal };
  }

  private verifierFailed(err: unknown): HandshakeOutcome {
    this.reportVerifierFailure(err);
    return reject('verifier_error');
  }

  /**
   * A verifier outage (a JWKS endpoint down) fails every handshake: one line per 10 s, with how
   * many failed since, instead of one per handshake.
   */
  private reportVerifierFailure(err: unknown): void {
    const now = Date.now();
    if (now - this.lastReportAt < 10_000) {
      this.suppressed++;
      return;
    }
    this.logger.error(
      {
        err: err instanceof Error ? err.message : String(err),
        failedSinceLastReport: this.suppressed,
      },
      'token verifier failed; handshakes refused with 503',
    );
    this.lastReportAt = now;
    this.suppressed = 0;
  }
}
