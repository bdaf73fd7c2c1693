import { Logger, type INestApplicationContext } from '@nestjs/common';
import {
  AbstractWsAdapter,
  type MessageMappingProperties,
} from '@nestjs/websockets';
import type { Server as HttpServer } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ConnectionLogger } from './connections/connection-log.js';
import {
  connectionOf,
  type MessageCallback,
} from './connections/connection.js';
import {
  compileHandlerTable,
  isSharedTable,
} from './dispatch/handler-table.js';
import { GatewayServer } from './gateway.server.js';

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

/**
 * The WebSocket adapter of the gateway: Nest's glue to {@link GatewayServer}, on top of `ws`
 * and sharing the application's HTTP server and port. Compared with `@nestjs/platform-ws`'s
 * `WsAdapter`, the server it plugs in:
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
  private readonly logger = new Logger('Gateway');
  private server?: GatewayServer;
  private readonly duplicateEvents = new Set<string>();

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
    return this.gatewayServer().serverFor(options?.path);
  }

  /**
   * Nest's per-connection binding for one gateway (its hooks, its handlers bound to the client),
   * run for the connections of the gateway's path.
   */
  bindClientConnect(
    server: WebSocketServer,
    callback: (client: WebSocket) => void,
  ): void {
    this.gatewayServer().addBinding(server, callback);
  }

  bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    // Nest's rxjs transform is not used: results are awaited directly, once per message.
    _transform: unknown,
  ): void {
    const connection = connectionOf(client);
    if (!connection) return;
    // Copied on write: the connection may share its path's compiled table (GatewayServer.bind).
    const current = connection.handlers;
    const bound =
      current instanceof Map && !isSharedTable(current)
        ? (current as Map<string, MessageCallback>)
        : new Map(current);
    connection.handlers = bound;
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

  /** Graceful shutdown of one path's server; the first call drains every connection. */
  async close(server: WebSocketServer): Promise<void> {
    await this.server?.drainAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async dispose(): Promise<void> {
    this.server?.detach(this.httpServer as HttpServer);
    this.server = undefined;
  }

  /** The application's {@link GatewayServer}, attached to its HTTP server at the first gateway. */
  private gatewayServer(): GatewayServer {
    if (this.server) return this.server;
    const httpServer = this.httpServer as HttpServer | undefined;
    if (!httpServer) {
      throw new Error(
        'GatewayAdapter needs an HTTP application: new GatewayAdapter(app)',
      );
    }
    this.server = this.app.get(GatewayServer, { strict: false });
    const server = this.server;
    this.server.attach(httpServer, this.adapterOptions.connectionLogger, () =>
      compileHandlerTable(this.app, server.defaultPath),
    );
    return this.server;
  }

  private warnDuplicate(event: string): void {
    if (this.duplicateEvents.has(event)) return;
    this.duplicateEvents.add(event);
    this.logger.warn(
      `event "${event}" has handlers in more than one gateway of a path; the first one bound serves it`,
    );
  }
}
