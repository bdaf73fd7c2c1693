import { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { TrafficStats } from './traffic-stats.js';
import type { ErrorJournal } from './error-journal.js';
import { CloseCode } from '../../protocol/close-codes.js';
import {
  RateLimiter,
  type RateLimits,
  type RateVerdict,
} from './rate-limiter.js';
import type { WriteCoalescer } from './write-coalescer.js';
import type { RequestId } from '../../protocol/frames.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { PacedReader } from './read-pacer.js';
import { errorFrame, type ErrorPayload } from '../../protocol/frames.js';

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

/**
 * A request handed to its handler, as its connection tracks it until it is answered (dispatch's
 * RequestContext is one): a close the server decides answers what is still pending.
 */
export interface PendingRequest {
  /** Answers the request with an error frame; nothing if it was answered already. */
  fail(payload: ErrorPayload): void;
}

/**
 * A handler bound to one client: Nest's callback (guards, pipes, filters included), which returns
 * a promise, or a compiled one (dispatch/handler-table.ts), which returns the reply itself when it
 * can answer synchronously and a promise otherwise (never an Observable).
 */
export type MessageCallback = (
  data: unknown,
  context: PendingRequest,
) => unknown;

/** What every connection of an instance shares: counters and the limits it enforces. */
export interface ConnectionContext {
  readonly traffic: TrafficStats;
  readonly errors: ErrorJournal;
  readonly writes: WriteCoalescer;
  readonly maxBufferedBytes: number;
  readonly rateLimit: RateLimits;
  readonly closeGraceMs: number;
}

/** A frame given as a Buffer is still text (ws would send a Buffer as binary). */
const TEXT_FRAME = { binary: false } as const;

/** How long a slow reader gets to take the 1013 close frame before its socket is destroyed. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/** What a request gets in place of a reply that a client too slow to read has no room for. */
const REPLY_DROPPED: ErrorPayload = {
  code: ErrorCode.INTERNAL,
  message: 'the reply was dropped: the client reads too slowly',
};

/**
 * The gateway's record of one open socket. Only the protocol layer sees this class; everything
 * above it gets {@link ConnectionInfo}.
 */
export class ClientConnection implements ConnectionInfo, PacedReader {
  readonly openedAt = Date.now();
  /**
   * Handlers of every gateway on the server, by event name (one lookup per message); undefined
   * until Nest has bound them to this client, at its first message (see GatewayAdapter). A
   * connection that only listens never needs them.
   */
  handlers?: ReadonlyMap<string, MessageCallback>;
  /** Made at the first message, as full as it was at the handshake. */
  private rateLimiter?: RateLimiter;
  messagesIn = 0;
  messagesOut = 0;
  /** Heard from since the last heartbeat (a message or a pong). */
  alive = true;
  /** When the client last answered a heartbeat ping (ms since the epoch); never: undefined. */
  lastPongAt: number | undefined = undefined;
  /** Why the server is closing the connection, for the close log line. */
  closeCause: string | undefined = undefined;
  /**
   * The server has decided to close this connection: nothing more the client sends is accepted,
   * while the requests it already accepted are still answered.
   */
  closing = false;
  /**
   * The request whose handler is running now. Most handlers answer before they return, so a
   * request only joins {@link inFlight} (a Set: a hash entry made and deleted) when its handler
   * returned without answering.
   */
  private running: PendingRequest | undefined = undefined;
  /** Requests whose handler returned without answering them yet; made at the first one. */
  private inFlight?: Set<PendingRequest>;
  /** The close frame that waits for {@link inFlight} to empty, and the bound on that wait. */
  private pendingClose?: {
    code: number;
    reason: string;
    timer: NodeJS.Timeout;
  };
  /** Too slow to read: pushes and replies are dropped, error frames still go out. */
  private slow = false;
  /** The write coalescer's turn at this connection's last write. */
  private writeTurn = -1;
  /** The read pacer's turn at this connection's last message, and its bytes in that turn. */
  readTurn = -1;
  readBytes = 0;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly principal: Principal,
    readonly remoteAddress: string,
    private readonly context: ConnectionContext,
  ) {}

  /** Decides on a message of `size` bytes arriving at `now` (ms), against this connection's budget. */
  takeToken(now: number, size: number): RateVerdict {
    this.rateLimiter ??= new RateLimiter(this.context.rateLimit, this.openedAt);
    return this.rateLimiter.take(now, size);
  }

  /**
   * Charges this connection for `bytes` its message made the server send to others; further
   * messages wait until the budget has paid it back.
   */
  chargeFanout(bytes: number): void {
    this.rateLimiter?.chargeFanout(bytes, Date.now());
  }

  /** Sends a serialized frame, counted under `event`; false when it could not be sent. */
  send(frame: string, event: string): boolean {
    // Encoded once: the byte count is its length, and neither ws (which measures a string) nor the
    // socket (which copies a string into a buffer of its own to write it) goes over it again.
    const payload = Buffer.from(frame);
    if (!this.write(payload)) return false;
    this.context.traffic.sent(event, payload.length);
    return true;
  }

  /**
   * Writes a frame without counting it in the traffic stats (fan-out counts once for all its
   * recipients); false when the socket is no longer open, or when the client has fallen too far
   * behind (it is then closed with 1013).
   *
   * "Behind" is what the socket still buffers at the connection's first write of an event-loop
   * turn: bytes of earlier turns that the client has not read. The frames of the current turn
   * (held and written together: see WriteCoalescer) do not count, so one large message or one
   * burst never cuts off a client that reads; one that does not read holds at most the limit plus
   * one turn's frames.
   */
  write(frame: string | Buffer): boolean {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN || this.slow) return false;
    const writes = this.context.writes;
    if (this.writeTurn !== writes.turn) {
      if (socket.bufferedAmount > this.context.maxBufferedBytes) {
        this.closeSlow();
        return false;
      }
      this.writeTurn = writes.turn;
    }
    writes.hold(socket);
    socket.send(frame, TEXT_FRAME);
    this.messagesOut++;
    return true;
  }

  /**
   * Sends an error frame (counted by code, and kept in the error journal with `event`, the
   * request's) answering request `id`, if any. Error frames are small, so they go out even to a
   * client too slow to read: an answer is never dropped.
   */
  sendError(
    payload: ErrorPayload,
    id: RequestId | undefined,
    event?: string,
  ): boolean {
    this.context.traffic.error(payload.code);
    this.context.errors.record(
      payload.code,
      event,
      this.principal.subject,
      this.id,
    );
    const frame = errorFrame(payload, id);
    return this.send(frame, 'error') || this.force(frame, 'error');
  }

  /** Sends a request's reply, or an error frame in its place when the client is too slow. */
  sendReply(frame: string, event: string, id: RequestId | undefined): boolean {
    return this.send(frame, event) || this.sendError(REPLY_DROPPED, id, event);
  }

  /**
   * A request is being handed to its handler: a close waits for its answer (see {@link close}).
   * Once the handler has returned, {@link returned} says whether it still waits.
   */
  accepted(request: PendingRequest): void {
    this.running = request;
  }

  /** The handler of `request` returned; `answered`: it has answered the request already. */
  returned(request: PendingRequest, answered: boolean): void {
    if (this.running === request) this.running = undefined;
    if (!answered) (this.inFlight ??= new Set()).add(request);
  }

  /** A request was answered; the last one answered lets a pending close go out. */
  answered(request: PendingRequest): void {
    if (this.running === request) {
      this.running = undefined;
    } else if (!this.inFlight?.delete(request)) {
      return;
    }
    if (this.running !== undefined || this.inFlight?.size) return;
    const pending = this.pendingClose;
    if (!pending) return;
    this.pendingClose = undefined;
    clearTimeout(pending.timer);
    this.closeNow(pending.code, pending.reason);
  }

  /**
   * Starts the closing handshake, recording the cause for the close log line. From here on,
   * nothing the client sends is accepted; requests already accepted are answered first (for at
   * most `closeGraceMs`, then with `INTERNAL`), so every one gets its reply before the close
   * frame.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCause ??= reason;
    if (this.running === undefined && !this.inFlight?.size)
      return this.closeNow(code, reason);
    const timer = setTimeout(this.expireInFlight, this.context.closeGraceMs);
    timer.unref();
    this.pendingClose = { code, reason, timer };
  }

  /** The socket is closed: nothing is waited for any more. */
  closed(): void {
    if (this.pendingClose) clearTimeout(this.pendingClose.timer);
    this.pendingClose = undefined;
    this.running = undefined;
    this.inFlight = undefined;
  }

  private readonly expireInFlight = (): void => {
    const payload: ErrorPayload = {
      code: ErrorCode.INTERNAL,
      message: `the connection is closing and the request did not finish within ${this.context.closeGraceMs} ms`,
    };
    // Each fail() removes its request, and the last one sends the close frame.
    this.running?.fail(payload);
    for (const request of this.inFlight ?? []) request.fail(payload);
  };

  private closeNow(code: number, reason: string): void {
    const socket = this.socket;
    if (
      socket.readyState !== WebSocket.OPEN &&
      socket.readyState !== WebSocket.CONNECTING
    )
      return;
    socket.close(code, reason);
    if (this.slow) {
      // The close frame waits behind the backlog the client does not read.
      setTimeout(() => {
        if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
      }, SLOW_CLOSE_GRACE_MS).unref();
    }
  }

  /** Writes past the slow-reader check: only for error frames, which are small. */
  private force(frame: string, event: string): boolean {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    socket.send(frame);
    this.messagesOut++;
    this.context.traffic.sent(event, Buffer.byteLength(frame));
    return true;
  }

  /**
   * A client that does not read would otherwise grow the server's memory by everything sent to
   * it. Nothing more is queued but answers to requests already accepted; the close frame itself
   * waits behind the backlog, so the socket is destroyed if the close does not complete promptly.
   */
  private closeSlow(): void {
    this.slow = true;
    this.close(CloseCode.TRY_AGAIN_LATER, 'too slow to read');
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
