import { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { TrafficStats } from '../telemetry/traffic-stats.js';
import { CloseCode } from './close-codes.js';
import { RateLimiter } from './rate-limiter.js';
import type { WriteCoalescer } from './write-coalescer.js';
import type { RequestId } from './envelope.js';
import { errorFrame, type ErrorPayload } from './frames.js';
import type { RequestContext } from './request-context.js';

/** What handlers and services may know of a connection: no socket, just facts. */
export interface ConnectionInfo {
  /** Unique across instances: the instance id, a dash, a sequence number. */
  readonly id: string;
  readonly principal: Principal;
  /**
   * The client's IP address: the TCP peer's, or behind a trusted proxy (`trustedProxies`) the
   * one that proxy forwarded in `X-Forwarded-For`.
   */
  readonly remoteAddress: string;
  /** When the handshake completed, in ms since the epoch. */
  readonly openedAt: number;
}

/** A handler as Nest built it (guards, pipes, filters included), bound to one client. */
export type MessageCallback = (
  data: unknown,
  context: RequestContext,
) => Promise<unknown>;

/** What every connection of an instance shares: counters and the limits it enforces. */
export interface ConnectionContext {
  readonly traffic: TrafficStats;
  readonly writes: WriteCoalescer;
  readonly maxBufferedBytes: number;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
}

/** How long a slow reader gets to take the 1013 close frame before its socket is destroyed. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/**
 * The gateway's record of one open socket. Only the protocol layer sees this class; everything
 * above it gets {@link ConnectionInfo}.
 */
export class ClientConnection implements ConnectionInfo {
  readonly openedAt = Date.now();
  /**
   * Handlers of every gateway on the server, by event name (one lookup per message); undefined
   * until Nest has bound them to this client, at its first message (see GatewayAdapter). A
   * connection that only listens never needs them.
   */
  handlers?: Map<string, MessageCallback>;
  /** Made at the first message, as full as it was at the handshake. */
  private rateLimiter?: RateLimiter;
  messagesIn = 0;
  messagesOut = 0;
  /** Heard from since the last heartbeat (a message or a pong). */
  alive = true;
  /** Why the server is closing the connection, for the close log line. */
  closeCause: string | undefined = undefined;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly principal: Principal,
    readonly remoteAddress: string,
    private readonly context: ConnectionContext,
  ) {}

  /** Takes a token from this connection's bucket for a message arriving at `now` (ms). */
  takeToken(now: number): 'allow' | 'refuse' | 'close' {
    if (!this.rateLimiter) {
      const { perSecond, burst } = this.context.rateLimit;
      this.rateLimiter = new RateLimiter(perSecond, burst, this.openedAt);
    }
    return this.rateLimiter.take(now);
  }

  /** Sends a serialized frame, counted under `event`; false when it could not be sent. */
  send(frame: string, event: string): boolean {
    const bytes = Buffer.byteLength(frame);
    if (!this.write(frame, bytes)) return false;
    this.context.traffic.sent(event, bytes);
    return true;
  }

  /**
   * Writes a frame of `bytes` bytes without counting it in the traffic stats (fan-out counts
   * once for all its recipients); false when the socket is no longer open, or when the client
   * has fallen too far behind (it is then closed with 1013).
   */
  write(frame: string, bytes: number): boolean {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount + bytes > this.context.maxBufferedBytes) {
      this.closeSlow();
      return false;
    }
    this.context.writes.hold(socket);
    socket.send(frame);
    this.messagesOut++;
    return true;
  }

  /** Sends an error frame (counted by code) answering request `id`, if any. */
  sendError(payload: ErrorPayload, id: RequestId | undefined): boolean {
    this.context.traffic.error(payload.code);
    return this.send(errorFrame(payload, id), 'error');
  }

  /** Starts the closing handshake, recording the cause for the close log line. */
  close(code: number, reason: string): void {
    this.closeCause ??= reason;
    if (
      this.socket.readyState === WebSocket.OPEN ||
      this.socket.readyState === WebSocket.CONNECTING
    ) {
      this.socket.close(code, reason);
    }
  }

  /**
   * A client that does not read would otherwise grow the server's memory by everything sent to
   * it. Nothing more is queued once closing; the close frame itself waits behind the backlog, so
   * the socket is destroyed if the close does not complete promptly.
   */
  private closeSlow(): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    this.close(CloseCode.TRY_AGAIN_LATER, 'too slow to read');
    setTimeout(() => {
      if (this.socket.readyState !== WebSocket.CLOSED) this.socket.terminate();
    }, SLOW_CLOSE_GRACE_MS).unref();
  }
}

/**
 * Where a socket keeps its record. A property rather than a WeakMap: every handshake would add an
 * ephemeron entry, which the garbage collector processes at extra cost while connections churn.
 */
const CONNECTION = Symbol('gateway connection');

interface WithConnection {
  [CONNECTION]?: ClientConnection;
}

/** Links a socket to its record, for guards and parameter decorators that only see the socket. */
export function attachConnection(
  socket: object,
  connection: ClientConnection,
): void {
  (socket as WithConnection)[CONNECTION] = connection;
}

/** The record of a socket accepted by the gateway, or undefined for anything else. */
export function connectionOf(socket: unknown): ClientConnection | undefined {
  return typeof socket === 'object' && socket !== null
    ? (socket as WithConnection)[CONNECTION]
    : undefined;
}
