import { Logger, type INestApplicationContext } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import {
  AbstractWsAdapter,
  type MessageMappingProperties,
} from '@nestjs/websockets';
import type {
  IncomingMessage,
  OutgoingHttpHeaders,
  Server as HttpServer,
} from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { firstValueFrom, isObservable } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DrainState } from './connections/drain-state.js';
import { GatewayMetrics } from './telemetry/gateway-metrics.js';
import { TrafficStats } from './connections/traffic-stats.js';
import { GatewayEvents } from './connections/gateway-events.js';
import type { HandshakeOutcome } from './admission/handshake-authenticator.js';
import type { Principal } from './auth/principal.js';
import { GATEWAY_OPTIONS } from './gateway-options.token.js';
import type { ResolvedGatewayOptions } from './gateway.options.js';
import { CloseCode } from '../protocol/close-codes.js';
import {
  connectionOf,
  type ClientConnection,
  type MessageCallback,
} from './connections/connection.js';
import { gatewaysHaveConnectionHooks } from './dispatch/connection-hooks.js';
import {
  ConnectionLog,
  type ConnectionLogger,
} from './connections/connection-log.js';
import { ConnectionRegistry } from './connections/connection-registry.js';
import { drainConnections } from './connections/drain.js';
import {
  ErrorCode,
  GatewayError,
  InvalidEnvelopeError,
  isEnvelopeText,
  parseEnvelope,
  plainTextReply,
  type RequestId,
} from '../protocol/index.js';
import { mapError } from './dispatch/error-mapping.js';
import { HandshakeGate } from './admission/handshake-gate.js';
import { Heartbeat } from './connections/heartbeat.js';
import type { RateRefusal } from './connections/rate-limiter.js';
import { ReadPacer } from './connections/read-pacer.js';
import { RequestContext } from './dispatch/request-context.js';

type VerifyDone = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: OutgoingHttpHeaders,
) => void;

const LOG_CONTEXT = 'Gateway';

/** What an application may hand the adapter besides itself. */
export interface GatewayAdapterOptions {
  /**
   * Where the `connection opened` / `connection closed` lines go instead of Nest's logger: a
   * structured logger such as pino's, e.g. nestjs-pino's `PinoLogger.root` in an application that
   * logs through nestjs-pino. The lines are the same; they skip the layers of Nest's logger, which
   * shows at high connection churn. Without it they go through Nest's logger for the `Gateway`
   * context, whichever logger the application installed.
   */
  connectionLogger?: ConnectionLogger;
}

/** Nest's per-connection binding of one gateway: its hooks, its handlers bound to the client. */
type GatewayBinding = (client: WebSocket) => void;

// Socket listeners shared by every connection (ws calls them with the socket as `this`), rather
// than two closures allocated per handshake.
function recordCloseCause(this: WebSocket, err: Error): void {
  // ws follows every protocol error (1002, 1007, 1009) with the matching close frame.
  const connection = connectionOf(this);
  if (connection) connection.closeCause ??= err.message;
}
function markAlive(this: WebSocket): void {
  const connection = connectionOf(this);
  if (connection) connection.alive = true;
}

/** Where `verify` leaves the principal for `onConnection`: the same request object reaches both. */
const PRINCIPAL = Symbol('principal');
interface VerifiedRequest extends IncomingMessage {
  [PRINCIPAL]?: Principal;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function peerOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function ignoreSocketError(): void {}

/** Answers an upgrade request with a plain HTTP error and closes the TCP connection. */
function refuse(
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
 * The WebSocket adapter of the gateway, on top of `ws` and sharing the application's HTTP
 * server and port. Compared with `@nestjs/platform-ws`'s `WsAdapter` it:
 * - authenticates at the upgrade request (401 and no socket on failure);
 * - serves each gateway at its path (`@WebSocketGateway({ path })`, else the configured `path`),
 *   all behind the same handshake checks, with a 404 for a path no gateway serves; a client gets
 *   the handlers of the gateways at its path only, looked up in a map once per message;
 * - binds a gateway's handlers to a client at its first message, not at the handshake, unless a
 *   gateway implements `OnGatewayConnection` or `OnGatewayDisconnect`;
 * - answers what the stock adapter drops: malformed JSON, unknown events, plain text;
 * - passes each request's id through to the reply and to error frames;
 * - closes with 1001 and drains on shutdown instead of terminating clients.
 *
 * A host application adds one line: `app.useWebSocketAdapter(new GatewayAdapter(app))`.
 */
export class GatewayAdapter extends AbstractWsAdapter {
  private readonly logger = new Logger(LOG_CONTEXT);
  private connectionLog!: ConnectionLog;
  /** One `ws` server per path that gateways asked for. */
  private readonly servers = new Map<string, WebSocketServer>();
  private options!: ResolvedGatewayOptions;
  private registry!: ConnectionRegistry;
  private gate!: HandshakeGate;
  private heartbeat?: Heartbeat;
  private events!: GatewayEvents;
  private drain!: DrainState;
  private traffic!: TrafficStats;
  private metrics!: GatewayMetrics;
  private upgradeListener?: (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) => void;
  private readonly duplicateEvents = new Set<string>();
  private readonly pacer = new ReadPacer();
  /** The text of each `RATE_LIMITED` refusal, made once from the limits. */
  private rateMessages!: Record<RateRefusal, string>;
  /** Nest's per-connection binding of each gateway, by the server of the gateway's path. */
  private readonly gatewayBindings = new Map<
    WebSocketServer,
    GatewayBinding[]
  >();
  /** Whether the bindings run at the handshake (a gateway has connection hooks). */
  private bindEagerly = true;

  /**
   * @param app the Nest application, whose HTTP server the gateway shares.
   * @param adapterOptions see {@link GatewayAdapterOptions}.
   */
  constructor(
    private readonly app: INestApplicationContext,
    private readonly adapterOptions: GatewayAdapterOptions = {},
  ) {
    super(app);
  }

  create(port: number, options?: { path?: string }): WebSocketServer {
    if (port !== 0) {
      throw new Error(
        `GatewayAdapter serves every gateway on the application's own port; ` +
          `remove the port (${port}) from @WebSocketGateway()`,
      );
    }
    if (!this.upgradeListener) this.start();
    const path = options?.path ?? this.options.path;
    if (!path.startsWith('/')) {
      throw new Error(
        `@WebSocketGateway({ path: ${JSON.stringify(path)} }): a path starts with "/"`,
      );
    }
    let server = this.servers.get(path);
    if (!server) {
      server = this.serverFor(path);
      this.servers.set(path, server);
    }
    return server;
  }

  /** What every path shares: the collaborators, the upgrade listener, the heartbeat. */
  private start(): void {
    const httpServer = this.httpServer as HttpServer | undefined;
    if (!httpServer) {
      throw new Error(
        'GatewayAdapter needs an HTTP application: new GatewayAdapter(app)',
      );
    }
    this.options = this.app.get<ResolvedGatewayOptions>(GATEWAY_OPTIONS, {
      strict: false,
    });
    this.registry = this.app.get(ConnectionRegistry, { strict: false });
    this.gate = this.app.get(HandshakeGate, { strict: false });
    this.events = this.app.get(GatewayEvents, { strict: false });
    this.drain = this.app.get(DrainState, { strict: false });
    this.traffic = this.app.get(TrafficStats, { strict: false });
    this.metrics = this.app.get(GatewayMetrics, { strict: false });
    this.connectionLog = new ConnectionLog(
      LOG_CONTEXT,
      this.logger,
      this.adapterOptions.connectionLogger,
    );
    const rate = this.options.rateLimit;
    this.rateMessages = {
      messages: `over ${rate.perSecond} messages per second (burst ${rate.burst}); slow down`,
      bytes: `over ${rate.bytesPerSecond} bytes per second (burst ${rate.bytesBurst}); slow down`,
      fanout: `over ${rate.fanoutBytesPerSecond} bytes per second of fan-out (a message's size times its recipients); slow down`,
    };
    this.bindEagerly = gatewaysHaveConnectionHooks(
      this.app.get(DiscoveryService, { strict: false }),
    );
    this.upgradeListener = (req, socket, head) =>
      this.onUpgrade(req, socket, head);
    httpServer.on('upgrade', this.upgradeListener);
    this.heartbeat = new Heartbeat(
      this.registry,
      this.options.heartbeatIntervalMs,
    );
    this.heartbeat.start();
  }

  /** The `ws` server of one path; its connections get the bindings of that path's gateways. */
  private serverFor(path: string): WebSocketServer {
    const server = new WebSocketServer({
      noServer: true,
      // The registry tracks clients; ws's own Set would be a second copy.
      clientTracking: false,
      // ws applies maxPayload to the inflated message: a deflate bomb ends in 1009.
      perMessageDeflate: this.options.perMessageDeflate,
      maxPayload: this.options.maxPayloadBytes,
      maxFragments: this.options.maxFragments,
      verifyClient: (info: { req: IncomingMessage }, done: VerifyDone) =>
        this.verify(info.req, done),
    });
    const bindings: GatewayBinding[] = [];
    this.gatewayBindings.set(server, bindings);
    server.on('connection', (socket: WebSocket, req: IncomingMessage) =>
      this.onConnection(socket, req, bindings),
    );
    this.logger.debug(`gateways served at ${path}`);
    return server;
  }

  /**
   * Nest's per-connection binding for one gateway (its hooks, its handlers bound to the client),
   * run by {@link bindGateways}: at the handshake when a gateway has connection hooks, otherwise
   * at the client's first message. Most connections of a busy gateway are short or only listen;
   * binding at the handshake cost about 7 % more CPU per handshake, and a listener's memory.
   */
  bindClientConnect(
    server: WebSocketServer,
    callback: (client: WebSocket) => void,
  ): void {
    this.gatewayBindings.get(server)?.push(callback);
  }

  bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    // Nest's rxjs transform is not used: results are awaited directly, once per message.
    _transform: unknown,
  ): void {
    const connection = connectionOf(client);
    if (!connection) return;
    const bound = (connection.handlers ??= new Map());
    for (const { message, callback } of handlers) {
      if (typeof message !== 'string') continue;
      if (bound.has(message)) {
        this.warnDuplicate(message);
        continue;
      }
      bound.set(message, callback as MessageCallback);
    }
  }

  bindClientDisconnect(
    client: WebSocket,
    callback: (...args: unknown[]) => void,
  ): void {
    client.once('close', callback);
  }

  /** Graceful shutdown: refuse new upgrades, close every client with 1001, wait, then cut off. */
  async close(server: WebSocketServer): Promise<void> {
    this.drain.begin();
    this.heartbeat?.stop();
    if (this.registry) {
      const result = await drainConnections(
        this.registry.all(),
        CloseCode.GOING_AWAY,
        'server shutting down',
        this.options.shutdownDrainMs,
      );
      if (result.closed + result.terminated > 0)
        this.logger.log(result, 'connections drained');
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async dispose(): Promise<void> {
    if (this.upgradeListener) {
      (this.httpServer as HttpServer).off('upgrade', this.upgradeListener);
      this.upgradeListener = undefined;
    }
    this.servers.clear();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A socket error is handled by refuse() below or, from handleUpgrade on, by ws.
    try {
      const server = this.servers.get(pathOf(req.url));
      if (!server) {
        this.metrics.handshakeRejected('path');
        return refuse(socket, 404);
      }
      if (this.drain.draining) {
        this.metrics.handshakeRejected('draining');
        return refuse(socket, 503, { 'Retry-After': '1' });
      }
      server.handleUpgrade(req, socket, head, (ws) =>
        server.emit('connection', ws, req),
      );
    } catch (err) {
      this.logger.error({ err }, 'upgrade failed');
      refuse(socket, 500);
    }
  }

  private verify(req: IncomingMessage, done: VerifyDone): void {
    let outcome: HandshakeOutcome | Promise<HandshakeOutcome>;
    try {
      outcome = this.gate.admit({
        origin: req.headers.origin,
        authorization: req.headers.authorization,
        url: req.url,
        remoteAddress: req.socket.remoteAddress,
      });
    } catch (err) {
      return this.verifyFailed(err, done);
    }
    if (outcome instanceof Promise) {
      outcome
        .then(
          (settled) => this.conclude(req, settled, done),
          (err: unknown) => this.verifyFailed(err, done),
        )
        // conclude() runs the upgrade and onConnection: a bug there must not become an
        // unhandled rejection, which would end the process.
        .catch((err: unknown) => this.logger.error({ err }, 'upgrade failed'));
    } else {
      this.conclude(req, outcome, done);
    }
  }

  private conclude(
    req: VerifiedRequest,
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
          remote: this.clientAddress(req, peerOf(req)),
          // Set when the principal's own cap refused it: who holds too many.
          principal: verified.principal?.subject,
        },
        'handshake refused',
      );
      return done(false, status, STATUS_CODES[status], headers);
    }
    // Carried on the request to onConnection, which ws calls with it once the upgrade completes.
    req[PRINCIPAL] = outcome.principal;
    done(true);
  }

  private verifyFailed(err: unknown, done: VerifyDone): void {
    this.logger.error({ err }, 'handshake check failed');
    done(false, 500);
  }

  private onConnection(
    socket: WebSocket,
    req: VerifiedRequest,
    bindings: readonly GatewayBinding[],
  ): void {
    const principal = req[PRINCIPAL];
    if (!principal) {
      // Only verified upgrades reach here; anything else is a bug, and is closed, not served.
      socket.terminate();
      return;
    }
    req[PRINCIPAL] = undefined;
    this.metrics.connectionAccepted();
    const peer = peerOf(req);
    const client = this.clientAddress(req, peer);
    const connection = this.registry.register(socket, principal, client);
    socket.on('error', recordCloseCause);
    socket.on('pong', markAlive);
    socket.once('close', (code: number, reason: Buffer) =>
      this.onClose(connection, code, reason),
    );
    socket.on('message', (data: RawData, isBinary: boolean) =>
      this.onMessage(connection, bindings, data, isBinary),
    );
    this.connectionLog.opened(connection, client === peer ? undefined : peer);
    this.events.emit('connected', connection);
    if (this.bindEagerly) this.bindGateways(connection, bindings);
  }

  /**
   * Who the client is, for logs and {@link ClientConnection.remoteAddress}. `X-Forwarded-For` is
   * read only from a trusted proxy: from anyone else it is whatever the client chose to write.
   */
  private clientAddress(req: IncomingMessage, peer: string): string {
    const proxies = this.options.trustedProxies;
    return proxies
      ? proxies.clientAddress(peer, req.headers['x-forwarded-for'])
      : peer;
  }

  /**
   * Runs Nest's per-connection binding of the gateways at the connection's path (see
   * {@link bindClientConnect}).
   */
  private bindGateways(
    connection: ClientConnection,
    bindings: readonly GatewayBinding[],
  ): void {
    // The table's presence is what marks the connection bound, even if no gateway has a handler.
    connection.handlers = new Map();
    for (const bind of bindings) bind(connection.socket);
  }

  private onClose(
    connection: ClientConnection,
    code: number,
    reasonBuffer: Buffer,
  ): void {
    const reason = connection.closeCause ?? reasonBuffer.toString();
    // Listeners (rooms, presence hooks) still find the connection in the registry.
    this.events.emit('disconnected', connection, { code, reason });
    connection.closed();
    this.registry.unregister(connection);
    this.connectionLog.closed(connection, code, reason);
  }

  /** The connection's edge: nothing thrown here may reach the socket's emitter or the process. */
  private onMessage(
    connection: ClientConnection,
    bindings: readonly GatewayBinding[],
    data: RawData,
    isBinary: boolean,
  ): void {
    connection.alive = true;
    // Once the server has decided to close, it accepts nothing more: only what it accepted before
    // is answered (see ClientConnection.close).
    if (connection.closing) return;
    connection.messagesIn++;
    // Text frames arrive as one Buffer (binaryType 'nodebuffer', fragments joined by ws).
    const buffer = data as Buffer;
    this.pacer.handled(connection, connection.socket, buffer.length);
    try {
      if (!connection.handlers) this.bindGateways(connection, bindings);
      const verdict = connection.takeToken(Date.now(), buffer.length);
      if (verdict !== 'allow') {
        this.refuseOverRate(connection, buffer, isBinary, verdict);
        return;
      }
      if (isBinary) {
        this.traffic.received('binary', buffer.length);
        connection.close(
          CloseCode.UNSUPPORTED_DATA,
          'binary frames are not accepted',
        );
        return;
      }
      const text = buffer.toString();
      if (!isEnvelopeText(text)) {
        this.traffic.received('text', buffer.length);
        connection.send(plainTextReply(text), 'text');
        return;
      }
      let envelope;
      try {
        envelope = parseEnvelope(text, this.options.maxDepth);
      } catch (err) {
        this.traffic.received('invalid', buffer.length);
        const id = err instanceof InvalidEnvelopeError ? err.id : undefined;
        connection.sendError(mapError(err).payload, id);
        return;
      }
      const handler = connection.handlers?.get(envelope.event);
      // Only handler names become metric labels: clients choose event names, not label sets.
      this.traffic.received(
        handler ? envelope.event : 'unknown',
        buffer.length,
      );
      if (!handler) {
        const { payload } = mapError(GatewayError.unknownEvent(envelope.event));
        connection.sendError(payload, envelope.id);
        return;
      }
      const request = new RequestContext(
        connection,
        envelope.event,
        envelope.id,
      );
      connection.accepted(request);
      void handler(envelope.data, request).then(
        (result) => this.settle(request, result),
        (err: unknown) => this.fail(request, err),
      );
    } catch (err) {
      this.logger.error(
        { err, connection: connection.id },
        'message handling failed',
      );
      connection.sendError(mapError(err).payload, undefined);
    }
  }

  /**
   * A message over the connection's budget: answered `RATE_LIMITED` (with the request's id when
   * it has one, so the client can tell which request was refused), or, for a client that keeps
   * flooding, the connection is closed with 1008.
   */
  private refuseOverRate(
    connection: ClientConnection,
    buffer: Buffer,
    isBinary: boolean,
    verdict: RateRefusal | 'close',
  ): void {
    this.traffic.received('rate_limited', buffer.length);
    if (verdict === 'close') {
      connection.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded');
      return;
    }
    let id: RequestId | undefined;
    const text = isBinary ? '' : buffer.toString();
    if (isEnvelopeText(text)) {
      try {
        id = parseEnvelope(text, this.options.maxDepth).id;
      } catch (err) {
        id = err instanceof InvalidEnvelopeError ? err.id : undefined;
      }
    }
    connection.sendError(
      { code: ErrorCode.RATE_LIMITED, message: this.rateMessages[verdict] },
      id,
    );
  }

  private async settle(
    request: RequestContext,
    result: unknown,
  ): Promise<void> {
    try {
      const value = isObservable(result)
        ? await firstValueFrom(result, { defaultValue: undefined })
        : result;
      request.reply(value);
    } catch (err) {
      this.fail(request, err);
    }
  }

  /** Errors that escaped Nest's exception filters (a filter that rethrows, a bad result). */
  private fail(request: RequestContext, err: unknown): void {
    if (request.isSettled) return;
    const { payload, unexpected } = mapError(err);
    if (unexpected) {
      this.logger.error(
        { err, connection: request.connection.id, event: request.event },
        'handler failed',
      );
    }
    request.fail(payload);
  }

  private warnDuplicate(event: string): void {
    if (this.duplicateEvents.has(event)) return;
    this.duplicateEvents.add(event);
    this.logger.warn(
      `event "${event}" has handlers in more than one gateway; the first one bound serves it`,
    );
  }
}
