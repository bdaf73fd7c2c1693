import { Inject, Injectable } from '@nestjs/common';
import {
  HandshakeAuthenticator,
  type HandshakeOutcome,
  type HandshakeRejection,
} from './handshake-authenticator.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { KeyedCounter } from '../connections/keyed-counter.js';

/** What the gate needs to know of an upgrade request, as plain values. */
export interface UpgradeRequest {
  origin?: string;
  authorization?: string;
  url?: string;
  /** The TCP peer's address, as the registry will record it. */
  remoteAddress?: string;
}

/**
 * `Retry-After` of a per-principal or per-address refusal. Short: the slot comes back when one
 * of the client's own connections closes, which it often controls (a tab closed), and a
 * connection left half-open by a network change is dropped by the heartbeat.
 */
export const PER_CLIENT_RETRY_AFTER_SEC = 10;

const refused = (
  status: HandshakeRejection['status'],
  reason: HandshakeRejection['reason'],
  headers: Record<string, string> = {},
): HandshakeOutcome => ({ rejection: { status, reason, headers } });

// 429, not the 503 of a full instance: the client itself holds too many, and waiting for others
// to leave will not help it. The client library retries both after a backoff.
const overPerClientCap = (reason: 'address_limit' | 'principal_limit') =>
  refused(429, reason, { 'Retry-After': String(PER_CLIENT_RETRY_AFTER_SEC) });

/**
 * Everything decided before a socket exists, cheapest first: the `Origin` allow-list (403,
 * against cross-site WebSocket hijacking), the connections per remote address (429), the
 * connection limit (503), then the token (401) and the connections per principal (429, once the
 * token says who it is; see {@link admitPrincipal}). The per-address and instance limits count
 * handshakes still being verified, so a burst cannot overshoot them.
 */
@Injectable()
export class HandshakeGate {
  private pending = 0;
  /** Handshakes being verified, by remote address; only while the per-address cap is on. */
  private readonly pendingByAddress?: KeyedCounter;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly registry: ConnectionRegistry,
    private readonly authenticator: HandshakeAuthenticator,
  ) {
    if (options.maxConnectionsPerAddress > 0)
      this.pendingByAddress = new KeyedCounter();
  }

  /**
   * Synchronous unless the token verifier is asynchronous (JWKS, a custom lookup). An accepted
   * outcome still has to pass {@link admitPrincipal}.
   */
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
    const address = request.remoteAddress ?? 'unknown';
    const openHere = this.registry.byAddress;
    const pendingHere = this.pendingByAddress;
    if (
      openHere &&
      pendingHere &&
      openHere.count(address) + pendingHere.count(address) >=
        this.options.maxConnectionsPerAddress
    ) {
      return overPerClientCap('address_limit');
    }
    if (this.registry.size + this.pending >= this.options.maxConnections) {
      return refused(503, 'capacity', { 'Retry-After': '5' });
    }
    const outcome = this.authenticator.authenticate(request);
    if (!(outcome instanceof Promise)) return outcome;
    // Counted while the verifier works, so a burst of slow handshakes cannot overshoot the
    // limits. The upgrade completes synchronously after this, so the connection is in the
    // registry by the time the next handshake is counted.
    this.pending++;
    pendingHere?.increment(address);
    const settled = () => {
      this.pending--;
      pendingHere?.decrement(address);
    };
    outcome.then(settled, settled);
    return outcome;
  }

  /**
   * The per-principal cap, on the outcome {@link admit} settled with. The adapter calls it in
   * the same synchronous turn as it completes the upgrade (and so registers the connection):
   * handshakes of one principal whose verifications end together (one shared JWKS fetch) are
   * then counted one after the other, and cannot all pass. The principal is unknown before the
   * token is verified, so unlike the other limits this one cannot count handshakes in flight.
   */
  admitPrincipal(outcome: HandshakeOutcome): HandshakeOutcome {
    const cap = this.options.maxConnectionsPerPrincipal;
    const counts = this.registry.byPrincipal;
    if (
      !outcome.principal ||
      !counts ||
      // Every client is the same anonymous principal: a cap would be a second instance limit.
      this.options.auth.disabled ||
      counts.count(outcome.principal.subject) < cap
    ) {
      return outcome;
    }
    return overPerClientCap('principal_limit');
  }
}
