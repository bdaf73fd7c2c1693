import { Inject, Injectable } from '@nestjs/common';
import {
  HandshakeAuthenticator,
  type HandshakeOutcome,
} from '../auth/handshake-authenticator.js';
import {
  GATEWAY_OPTIONS,
  type ResolvedGatewayOptions,
} from '../gateway.options.js';
import { ConnectionRegistry } from './connection-registry.js';

/** What the gate needs to know of an upgrade request, as plain values. */
export interface UpgradeRequest {
  origin?: string;
  authorization?: string;
  url?: string;
}

const refused = (
  status: 403 | 503,
  reason: 'origin' | 'capacity',
  headers: Record<string, string> = {},
): HandshakeOutcome => ({ rejection: { status, reason, headers } });

/**
 * Everything decided before a socket exists, cheapest first: the `Origin` allow-list (403,
 * against cross-site WebSocket hijacking), the connection limit (503, counting handshakes still
 * being verified so a burst cannot overshoot it), then the token (401).
 */
@Injectable()
export class HandshakeGate {
  private pending = 0;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly registry: ConnectionRegistry,
    private readonly authenticator: HandshakeAuthenticator,
  ) {}

  /** Synchronous unless the token verifier is asynchronous (JWKS, a custom lookup). */
  admit(request: UpgradeRequest): HandshakeOutcome | Promise<HandshakeOutcome> {
    const allowed = this.options.allowedOrigins;
    // Browsers always send Origin; other clients (servers, CLIs) send none and are not the
    // cross-site risk the allow-list is for.
    if (
      allowed &&
      request.origin !== undefined &&
      !allowed.has(request.origin)
    ) {
      return refused(403, 'origin');
    }
    if (this.registry.size + this.pending >= this.options.maxConnections) {
      return refused(503, 'capacity', { 'Retry-After': '5' });
    }
    const outcome = this.authenticator.authenticate(request);
    if (!(outcome instanceof Promise)) return outcome;
    // Counted while the verifier works, so a burst of slow handshakes cannot overshoot the
    // limit. The upgrade completes synchronously after this, so the connection is in the
    // registry by the time the next handshake is counted.
    this.pending++;
    const settled = () => {
      this.pending--;
    };
    outcome.then(settled, settled);
    return outcome;
  }
}
