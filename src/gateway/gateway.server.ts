import { Inject, Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CloseCode } from '../protocol/close-codes.js';
import {
  pathOf,
  peerOf,
  UpgradeAdmission,
  type VerifyDone,
} from './admission/upgrade-admission.js';
import {
  attachConnection,
  connectionOf,
  type ClientConnection,
} from './connections/connection.js';
import {
  ConnectionLog,
  type ConnectionLogger,
} from './connections/connection-log.js';
import { ConnectionRegistry } from './connections/connection-registry.js';
import { drainConnections } from './connections/drain.js';
import { DrainState } from './connections/drain-state.js';
import { GatewayEvents } from './connections/gateway-events.js';
import { Heartbeat } from './connections/heartbeat.js';
import { gatewaysHaveConnectionHooks } from './dispatch/connection-hooks.js';
import { assertGatewaysDeclared } from './dispatch/gateway-declaration.js';
import type { HandlerTable } from './dispatch/handler-table.js';
import { MessageDispatcher } from './dispatch/message-dispatcher.js';
import { GATEWAY_OPTIONS } from './gateway-options.token.js';
import type { ResolvedGatewayOptions } from './gateway.options.js';
import { GatewayMetrics } from './telemetry/gateway-metrics.js';

/**
 * Answers the upgrade requests of a path that is not a gateway's (the console's WebSocket): it
 * does its own admission, and its sockets are not clients of the gateway.
 */
export type UpgradeRoute = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
) => void;

/** Nest's per-connection binding of one gateway: its hooks, its handlers bound to the client. */
export type GatewayBinding = (client: WebSocket) => void;

const LOG_CONTEXT = 'Gateway';

// Socket listeners shared by every connection (ws calls them with the socket as `this`), rather
// than two closures allocated per handshake.
function recordCloseCause(this: WebSocket, err: Error): void {
  // ws follows every protocol error (1002, 1007, 1009) with the matching close frame.
  const connection = connectionOf(this);
  if (connection) connection.closeCause ??= err.message;
}
/** `ws` keeps private whether the client's close frame has arrived. */
type WithCloseState = WebSocket & { _closeFrameReceived?: boolean };

/**
 * Closes the TCP socket as soon as the gateway's FIN has left, once both close frames have
 * crossed. `ws` would keep it half-open until the client's FIN, then end streams that have
 * already ended: Node builds an error with a full stack trace for each of those calls, two per
 * closing connection (a fifth of a handshake's CPU at high churn). The wire does not change: the
 * FIN went out, the kernel answers the client's own FIN and keeps TIME_WAIT on the server as
 * before. After a protocol error (1002, 1007, 1009) the client may still be sending: `ws` then
 * keeps reading until its FIN, as a close with bytes unread would reset the connection and could
 * cost the client the close frame.
 */
function closeAfterOwnFin(this: Duplex): void {
  const socket = connectionOf(this)?.socket as WithCloseState | undefined;
  if (socket?._closeFrameReceived === true) this.destroy();
}
function markAlive(this: WebSocket): void {
  const connection = connectionOf(this);
  if (!connection) return;
  connection.alive = true;
  connection.lastPongAt = Date.now();
}

/**
 * The WebSocket side of an HTTP server: one `ws` server per gateway path, the life of each
 * connection from its handshake to its close, the heartbeat and the drain at shutdown. Its
 * collaborators come by injection; the adapter only plugs it into Nest.
 */
@Injectable()
export class GatewayServer {
  private readonly logger = new Logger(LOG_CONTEXT);
  private connectionLog = new ConnectionLog(LOG_CONTEXT, this.logger);
  /** One `ws` server per path that gateways asked for. */
  private readonly servers = new Map<string, WebSocketServer>();
  /** Paths answered by something other than a gateway, such as the console's WebSocket. */
  private readonly routes = new Map<string, UpgradeRoute>();
  /** Nest's bindings of the gateways of each path, by the path's server. */
  private readonly bindings = new Map<WebSocketServer, GatewayBinding[]>();
  private heartbeat?: Heartbeat;
  private upgradeListener?: (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) => void;
  /** Whether the bindings run at the handshake (a gateway has connection hooks). */
  private bindEagerly = true;
  /** Makes the compiled handlers, at the first binding (every gateway is known by then). */
  private compileHandlers?: () => HandlerTable;
  private handlerTable?: HandlerTable;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly registry: ConnectionRegistry,
    private readonly admission: UpgradeAdmission,
    private readonly dispatcher: MessageDispatcher,
    private readonly events: GatewayEvents,
    private readonly drain: DrainState,
    private readonly metrics: GatewayMetrics,
    private readonly discovery: DiscoveryService,
  ) {}

  /**
   * Starts answering WebSocket upgrades on `httpServer`, and the heartbeat; the connection lines
   * go to `connectionLogger` when the application gives one.
   */
  attach(
    httpServer: HttpServer,
    connectionLogger?: ConnectionLogger,
    compileHandlers?: () => HandlerTable,
  ): void {
    if (this.upgradeListener) return;
    this.compileHandlers = compileHandlers;
    this.connectionLog = new ConnectionLog(
      LOG_CONTEXT,
      this.logger,
      connectionLogger,
    );
    // Before any socket is served: the dispatcher can only keep an error from looking like a
    // success when the gateway's filter, not Nest's, answers it.
    assertGatewaysDeclared(this.discovery);
    this.bindEagerly = gatewaysHaveConnectionHooks(this.discovery);
    this.upgradeListener = (req, socket, head) => {
      const path = pathOf(req.url);
      const route = this.routes.size > 0 ? this.routes.get(path) : undefined;
      if (route) return route(req, socket, head);
      this.admission.upgrade(req, socket, head, this.servers.get(path));
    };
    httpServer.on('upgrade', this.upgradeListener);
    this.heartbeat = new Heartbeat(
      this.registry,
      this.options.heartbeatIntervalMs,
    );
    this.heartbeat.start();
  }

  /** Stops answering upgrades on `httpServer`. */
  detach(httpServer: HttpServer): void {
    if (this.upgradeListener) httpServer.off('upgrade', this.upgradeListener);
    this.upgradeListener = undefined;
    this.heartbeat?.stop();
    this.servers.clear();
    this.bindings.clear();
    this.handlerTable = undefined;
  }

  /** The path of gateways that name none. */
  get defaultPath(): string {
    return this.options.path;
  }

  /** The `ws` server of `path` (the configured one when undefined), made at its first use. */
  serverFor(path: string = this.options.path): WebSocketServer {
    if (!path.startsWith('/')) {
      throw new Error(
        `@WebSocketGateway({ path: ${JSON.stringify(path)} }): a path starts with "/"`,
      );
    }
    let server = this.servers.get(path);
    if (server) return server;
    server = new WebSocketServer({
      noServer: true,
      // The registry tracks clients; ws's own Set would be a second copy.
      clientTracking: false,
      // ws applies maxPayload to the inflated message: a deflate bomb ends in 1009.
      perMessageDeflate: this.options.perMessageDeflate,
      maxPayload: this.options.maxPayloadBytes,
      maxFragments: this.options.maxFragments,
      verifyClient: (info: { req: IncomingMessage }, done: VerifyDone) =>
        this.admission.verify(info.req, done),
    });
    const bindings: GatewayBinding[] = [];
    this.bindings.set(server, bindings);
    // One per path, not one per connection.
    const binder = (connection: ClientConnection) =>
      this.bind(connection, bindings, path);
    server.on('connection', (socket: WebSocket, req: IncomingMessage) =>
      this.opened(socket, req, binder),
    );
    this.servers.set(path, server);
    this.logger.debug(`gateways served at ${path}`);
    return server;
  }

  /**
   * Hands the upgrade requests of `path` to `route` instead of the gateways: the route admits
   * (or refuses) them itself, and its sockets are not the gateway's connections.
   */
  route(path: string, route: UpgradeRoute): void {
    this.routes.set(path, route);
  }

  /** Adds a gateway's per-connection binding to the connections of `server`'s path. */
  addBinding(server: WebSocketServer, binding: GatewayBinding): void {
    this.bindings.get(server)?.push(binding);
  }

  /** Graceful shutdown: refuse new upgrades, close every client with 1001, wait, then cut off. */
  async drainAll(): Promise<void> {
    this.drain.begin();
    this.heartbeat?.stop();
    const result = await drainConnections(
      this.registry.all(),
      CloseCode.GOING_AWAY,
      'server shutting down',
      this.options.shutdownDrainMs,
    );
    if (result.closed + result.terminated > 0)
      this.logger.log(result, 'connections drained');
  }

  private opened(
    socket: WebSocket,
    req: IncomingMessage,
    bind: (connection: ClientConnection) => void,
  ): void {
    const principal = this.admission.takePrincipal(req);
    if (!principal) {
      // Only verified upgrades reach here; anything else is a bug, and is closed, not served.
      socket.terminate();
      return;
    }
    this.metrics.connectionAccepted();
    const peer = peerOf(req);
    const client = this.admission.clientAddress(req, peer);
    const connection = this.registry.register(socket, principal, client);
    // The upgrade request's socket is the connection's TCP socket.
    attachConnection(req.socket, connection);
    req.socket.on('finish', closeAfterOwnFin);
    socket.on('error', recordCloseCause);
    socket.on('pong', markAlive);
    socket.once('close', (code: number, reason: Buffer) =>
      this.closed(connection, code, reason),
    );
    socket.on('message', (data: RawData, isBinary: boolean) =>
      this.dispatcher.dispatch(connection, data, isBinary, bind),
    );
    this.connectionLog.opened(connection, client === peer ? undefined : peer);
    this.events.emit('connected', connection);
    if (this.bindEagerly) bind(connection);
  }

  /**
   * Runs Nest's per-connection binding of the gateways at the connection's path: at the
   * handshake when a gateway has connection hooks, otherwise at the client's first message
   * (most connections of a busy gateway are short or only listen).
   */
  private bind(
    connection: ClientConnection,
    bindings: readonly GatewayBinding[],
    path: string,
  ): void {
    // The table's presence is what marks the connection bound, even if no gateway has a handler.
    const handlers = (connection.handlers = new Map());
    for (const binding of bindings) binding(connection.socket);
    // Nest's callback of each event that has a compiled handler is replaced with it: the same
    // guards, pipes and filters, resolved once instead of on every message.
    this.handlerTable ??= this.compileHandlers?.() ?? new Map();
    const compiled = this.handlerTable.get(path);
    if (!compiled) return;
    let replaced = 0;
    for (const [event, handler] of compiled) {
      if (!handlers.has(event)) continue;
      handlers.set(event, handler);
      replaced++;
    }
    // Every handler compiled: the path's one table serves every connection, and the per-connection
    // copy (a Map per client, looked up on each message) is dropped.
    if (replaced === handlers.size && replaced === compiled.size) {
      connection.handlers = compiled;
    }
  }

  private closed(
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
}
