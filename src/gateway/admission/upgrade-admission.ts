import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.js';
import { DrainState } from '../connections/drain-state.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import type { HandshakeOutcome } from './handshake-authenticator.js';
import { HandshakeGate } from './handshake-gate.js';

/** How `ws`'s `verifyClient` is answered: admitted, or refused with a status and headers. */
export type VerifyDone = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

/** Where the check leaves the principal for the connection: the same request reaches both. */
const PRINCIPAL = Symbol('principal');
interface AdmittedRequest extends IncomingMessage {
  [PRINCIPAL]?: Principal;
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The TCP peer's address. */
export function peerOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function ignoreSocketError(): void {}

/** Answers an upgrade request with a plain HTTP error and closes the TCP connection. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  headers: OutgoingHttpHeaders = {},
): void {
  const body = STATUS_CODES[status] ?? 'Error';
  const lines = Object.entries({
    Connection: 'close',
    'Content-Type': 'text/plain',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  }).map(([name, value]) => `${name}: ${String(value)}`);
  // The peer may reset while it is answered; the socket is being closed either way, and an
  // 'error' without a listener would be an uncaught exception.
  socket.on('error', ignoreSocketError);
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${body}\r\n${lines.join('\r\n')}\r\n\r\n${body}`,
  );
}

/**
 * The upgrade request, from its arrival to the WebSocket: path (404), drain (503), then the
 * handshake gate (origin, caps, capacity, token) through `ws`'s `verifyClient`. Every refusal is
 * an HTTP answer, counted by reason; no socket ever exists for a refused client.
 */
@Injectable()
export class UpgradeAdmission {
  private readonly logger = new Logger('Gateway');

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly gate: HandshakeGate,
    private readonly drain: DrainState,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Hands an upgrade request to the server of its path, or refuses it. */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    server: WebSocketServer | undefined,
  ): void {
    // A socket error is handled by refuse() below or, from handleUpgrade on, by ws.
    try {
      if (!server) {
        this.metrics.handshakeRejected('path');
        return refuseUpgrade(socket, 404);
      }
      if (this.drain.draining) {
        this.metrics.handshakeRejected('draining');
        return refuseUpgrade(socket, 503, { 'Retry-After': '1' });
      }
      server.handleUpgrade(req, socket, head, (ws) =>
        server.emit('connection', ws, req),
      );
    } catch (err) {
      this.logger.error({ err }, 'upgrade failed');
      refuseUpgrade(socket, 500);
    }
  }

  /** `ws`'s `verifyClient`: the handshake gate's verdict, synchronous when the verifier is. */
  verify(req: IncomingMessage, done: VerifyDone): void {
    let outcome: HandshakeOutcome | Promise<HandshakeOutcome>;
    try {
      outcome = this.gate.admit({
        origin: req.headers.origin,
        authorization: req.headers.authorization,
        url: req.url,
        remoteAddress: req.socket.remoteAddress,
      });
    } catch (err) {
      return this.failed(err, done);
    }
    if (outcome instanceof Promise) {
      outcome
        .then(
          (settled) => this.conclude(req, settled, done),
          (err: unknown) => this.failed(err, done),
        )
        // conclude() runs the upgrade and the new connection: a bug there must not become an
        // unhandled rejection, which would end the process.
        .catch((err: unknown) => this.logger.error({ err }, 'upgrade failed'));
    } else {
      this.conclude(req, outcome, done);
    }
  }

  /** The principal the check admitted for this request, taken once. */
  takePrincipal(req: IncomingMessage): Principal | undefined {
    const admitted = req as AdmittedRequest;
    const principal = admitted[PRINCIPAL];
    admitted[PRINCIPAL] = undefined;
    return principal;
  }

  /**
   * Who the client is, for logs and the connection's `remoteAddress`. `X-Forwarded-For` is read
   * only from a trusted proxy: from anyone else it is whatever the client chose to write.
   */
  clientAddress(req: IncomingMessage, peer: string = peerOf(req)): string {
    const proxies = this.options.trustedProxies;
    return proxies
      ? proxies.clientAddress(peer, req.headers['x-forwarded-for'])
      : peer;
  }

  private conclude(
    req: AdmittedRequest,
    verified: HandshakeOutcome,
    done: VerifyDone,
  ): void {
    // Here, not in verify: done(true) completes the upgrade and registers the connection in this
    // same turn, so no other handshake of the principal is counted in between.
    const outcome = this.gate.admitPrincipal(verified);
    if (outcome.rejection) {
      const { status, reason, headers } = outcome.rejection;
      this.metrics.handshakeRejected(reason);
      this.logger.debug(
        {
          reason,
          status,
          remote: this.clientAddress(req),
          // Set when the principal's own cap refused it: who holds too many.
          principal: verified.principal?.subject,
        },
        'handshake refused',
      );
      return done(false, status, STATUS_CODES[status], headers);
    }
    req[PRINCIPAL] = outcome.principal;
    done(true);
  }

  private failed(err: unknown, done: VerifyDone): void {
    this.logger.error({ err }, 'handshake check failed');
    done(false, 500);
  }
}
