import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { CloseCode } from '../../protocol/close-codes.js';
import type { ConsolePushes } from '../../protocol/console.js';
import { parseEnvelope } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import {
  errorFrame,
  replyFrame,
  type RequestId,
} from '../../protocol/frames.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { refuseUpgrade } from '../admission/upgrade-admission.js';
import { DrainState } from '../connections/drain-state.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { GatewayServer } from '../gateway.server.js';
import { RoomsService } from '../rooms/rooms.service.js';
import {
  ConsoleAccess,
  LoginThrottledError,
  type ConsoleUser,
} from './console-access.js';
import { ConsoleCluster } from './console-cluster.js';
import { ConsoleRequest } from './console-request.js';

/** Where the console's WebSocket is served. */
export const CONSOLE_SOCKET_PATH = '/console/ws';
/** Console sockets one instance holds at most: people, not clients. */
const MAX_CONSOLE_SOCKETS = 64;
/** What a console sends is a small request; nothing larger is read. */
const MAX_CONSOLE_PAYLOAD = 16 * 1024;
/** Past this much unsent, tail entries are dropped (and counted) rather than queued. */
const TAIL_BACKLOG_BYTES = 1024 * 1024;
const PING_MS = 30_000;

function ignoreSocketError(): void {}

/** One console's socket: who, and the room it tails. */
interface ConsoleSession {
  readonly socket: WebSocket;
  readonly user: ConsoleUser;
  /** The cookie session's id, which a logout ends. */
  readonly sessionId?: string;
  alive: boolean;
  untail?: () => void;
  tailedRoom?: string;
  dropped: number;
  expiry?: NodeJS.Timeout;
  stopStats: () => void;
}

/**
 * The console's WebSocket at `/console/ws`: the gateway's upgrade handling routes it here, where
 * it is authenticated at the handshake (the session cookie or a bearer credential, and a
 * browser's `Origin` must be the console's own) and refused with an HTTP status otherwise. It
 * pushes every instance's numbers each interval and, on request, one room's messages. Its
 * sockets are not the gateway's clients: no broadcast reaches them, and they count in no limit
 * of the clients'.
 */
@Injectable()
export class ConsoleSocket implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Console');
  private readonly server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_CONSOLE_PAYLOAD,
    perMessageDeflate: false,
  });
  private readonly sessions = new Set<ConsoleSession>();
  private ping?: NodeJS.Timeout;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly access: ConsoleAccess,
    private readonly cluster: ConsoleCluster,
    private readonly rooms: RoomsService,
    private readonly gateway: GatewayServer,
    private readonly drain: DrainState,
  ) {}

  onModuleInit(): void {
    if (!this.access.enabled) return;
    this.gateway.route(CONSOLE_SOCKET_PATH, (req, socket, head) =>
      this.upgrade(req, socket, head),
    );
    this.ping = setInterval(() => this.heartbeat(), PING_MS);
    this.ping.unref();
    this.cluster.onSessionEnded((id) => {
      for (const session of this.sessions)
        if (session.sessionId === id)
          session.socket.close(
            CloseCode.TOKEN_EXPIRED,
            'console session ended',
          );
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.ping);
    for (const session of this.sessions)
      session.socket.close(CloseCode.GOING_AWAY, 'server shutting down');
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The peer may reset while its credentials are checked; ws listens from handleUpgrade on.
    socket.on('error', ignoreSocketError);
    const request = new ConsoleRequest(req, this.options.trustedProxies);
    if (this.drain.draining)
      return refuseUpgrade(socket, 503, { 'Retry-After': '1' });
    // Against cross-site WebSocket hijacking: a page elsewhere could open it with the cookie.
    if (!request.sameOrigin) return refuseUpgrade(socket, 403);
    if (this.sessions.size >= MAX_CONSOLE_SOCKETS)
      return refuseUpgrade(socket, 503, { 'Retry-After': '5' });
    this.access.authenticate(request.headers, request.address).then(
      (user) => {
        if (!user) return refuseUpgrade(socket, 401);
        if (socket.destroyed) return;
        this.server.handleUpgrade(req, socket, head, (ws) =>
          this.opened(ws, user),
        );
      },
      (err: unknown) => {
        if (err instanceof LoginThrottledError)
          return refuseUpgrade(socket, 429, {
            'Retry-After': String(err.retryAfterSec),
          });
        this.logger.error({ err }, 'console handshake failed');
        refuseUpgrade(socket, 500);
      },
    );
  }

  private opened(socket: WebSocket, user: ConsoleUser): void {
    const session: ConsoleSession = {
      socket,
      user,
      sessionId: user.session ? this.access.sessionId(user.session) : undefined,
      alive: true,
      dropped: 0,
      stopStats: this.cluster.onStats((instances) =>
        this.push(session, 'instances', { at: Date.now(), instances }),
      ),
    };
    this.sessions.add(session);
    if (user.expiresAt !== undefined) {
      // The session's end ends its socket too, as a client's token expiry does.
      const delay = Math.max(
        0,
        Math.min(user.expiresAt - Date.now(), 2 ** 31 - 1),
      );
      session.expiry = setTimeout(
        () => socket.close(CloseCode.TOKEN_EXPIRED, 'console session expired'),
        delay,
      );
      session.expiry.unref();
    }
    socket.on('pong', () => {
      session.alive = true;
    });
    socket.on('error', () => undefined);
    socket.on('message', (data: RawData, isBinary: boolean) =>
      this.received(session, data as Buffer, isBinary),
    );
    socket.once('close', () => this.closed(session));
    this.push(session, 'hello', {
      user: user.name,
      role: user.role,
      self: this.cluster.instanceId,
      intervalMs: this.cluster.statsIntervalMs,
      series: this.cluster.series(),
      instances: this.cluster.instances(),
    });
  }

  private received(
    session: ConsoleSession,
    data: Buffer,
    isBinary: boolean,
  ): void {
    let id: RequestId | undefined;
    try {
      if (isBinary)
        throw GatewayError.badRequest('binary frames are not accepted');
      const envelope = parseEnvelope(data.toString(), this.options.maxDepth);
      id = envelope.id;
      const reply = this.answer(session, envelope.event, envelope.data);
      if (id !== undefined)
        session.socket.send(replyFrame(envelope.event, reply, id));
    } catch (err) {
      const payload =
        err instanceof GatewayError
          ? { code: err.code, message: err.message }
          : {
              code: ErrorCode.BAD_REQUEST,
              message: 'not a request the console knows',
            };
      session.socket.send(errorFrame(payload, id));
    }
  }

  private answer(
    session: ConsoleSession,
    event: string,
    data: unknown,
  ): unknown {
    switch (event) {
      case 'tail': {
        const room = (data as { room?: unknown } | null)?.room;
        if (typeof room !== 'string')
          throw GatewayError.badRequest('tail: data.room must be a room name');
        this.stopTail(session);
        // watch() checks the name (BAD_REQUEST).
        session.untail = this.rooms.watch(room, (frame) =>
          this.tailed(session, room, frame),
        );
        session.tailedRoom = room;
        return { room };
      }
      case 'untail':
        this.stopTail(session);
        return null;
      default:
        throw new GatewayError(
          ErrorCode.UNKNOWN_EVENT,
          `no console event "${event.slice(0, 64)}"`,
        );
    }
  }

  /** One message of the tailed room: its facts for everyone, its payload for admins only. */
  private tailed(session: ConsoleSession, room: string, frame: string): void {
    if (session.socket.bufferedAmount > TAIL_BACKLOG_BYTES) {
      session.dropped++;
      return;
    }
    let message: {
      data?: { from?: unknown; offset?: unknown; data?: unknown };
    };
    try {
      message = JSON.parse(frame) as typeof message;
    } catch {
      return;
    }
    const body = message.data ?? {};
    // The room's own `message` frame: `from` always set, `offset` when the room keeps history.
    this.push(session, 'tail', {
      room,
      at: Date.now(),
      from: body.from as string,
      offset: body.offset as number | undefined,
      bytes: Buffer.byteLength(frame),
      dropped: session.dropped,
      ...(session.user.role === 'admin' ? { data: body.data } : {}),
    });
  }

  private push<E extends keyof ConsolePushes>(
    session: ConsoleSession,
    event: E,
    data: ConsolePushes[E],
  ): void {
    if (session.socket.readyState !== WebSocket.OPEN) return;
    session.socket.send(JSON.stringify({ event, data }));
  }

  private stopTail(session: ConsoleSession): void {
    session.untail?.();
    session.untail = undefined;
    session.tailedRoom = undefined;
  }

  private closed(session: ConsoleSession): void {
    this.stopTail(session);
    session.stopStats();
    clearTimeout(session.expiry);
    this.sessions.delete(session);
  }

  private heartbeat(): void {
    for (const session of this.sessions) {
      if (!session.alive) {
        session.socket.terminate();
        continue;
      }
      session.alive = false;
      session.socket.ping();
    }
  }
}
