import { defaultClock, timerDelay, type ClientClock } from './clock.js';
import { ConnectionState, type ClientState } from './connection-state.js';
import { ConnectionClosedError, GatewayClientError } from './errors.js';
import {
  ClientEvents,
  type Handler,
  type LifecycleEvents,
  type PushEvents,
  type PushHandler,
} from './events.js';
import { OPTION_DEFAULTS, type GatewayClientOptions } from './options.js';
import {
  CloseCode,
  parseFrame,
  type BroadcastReceipt,
  type PublishReceipt,
  type RequestId,
} from '../protocol/index.js';
import { ReconnectPolicy } from './reconnect-policy.js';
import { RequestTable } from './request-table.js';
import { SendQueue } from './send-queue.js';
import {
  dial,
  loadWebSocket,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transport.js';

export type { ClientClock } from './clock.js';
export type { ClientState } from './connection-state.js';
export type {
  CloseInfo,
  LifecycleEvents,
  PushEvents,
  PushHandler,
} from './events.js';
export type { GatewayClientOptions } from './options.js';
export type { ReconnectOptions } from './reconnect-policy.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';

/** Options of one request. */
export interface RequestOptions {
  /** Overrides `requestTimeoutMs` for this request. */
  timeoutMs?: number;
}

/** A frame waiting for a connection; `id` when it is a request's. */
interface Queued {
  text: string;
  id?: RequestId;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * A client of the gateway's protocol v1, for Node 20 (through `ws`) and browsers (the global
 * `WebSocket`). Requests are matched to replies by id; pushes reach `onPush(event)` handlers and
 * the connection's own events `on(event)` handlers; a drop is followed by reconnection with
 * backoff, the rooms joined again, and the frames sent while disconnected delivered then.
 */
export class GatewayClient {
  private readonly url: string;
  private token: GatewayClientOptions['token'];
  private readonly tokenIn?: 'header' | 'query';
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly clock: ClientClock;
  private readonly connection = new ConnectionState();
  private readonly policy: ReconnectPolicy;
  private readonly requests: RequestTable;
  private readonly queue: SendQueue<Queued>;
  private readonly events = new ClientEvents();
  private readonly joined = new Set<string>();
  private Socket?: WebSocketConstructor;
  private socketIsWs = false;
  private socket?: WebSocketLike;
  /** Bumped by every attempt: events of an older socket are ignored. */
  private generation = 0;
  private retryTimer: unknown;
  private userClosed = false;
  /** Why the client is closed for good; sends are refused with it until `connect()`. */
  private terminal?: GatewayClientError;
  private connectWaiters: Waiter[] = [];

  constructor(options: GatewayClientOptions) {
    this.url = options.url;
    this.token = options.token;
    this.tokenIn = options.tokenIn;
    this.requestTimeoutMs =
      options.requestTimeoutMs ?? OPTION_DEFAULTS.requestTimeoutMs;
    this.connectTimeoutMs =
      options.connectTimeoutMs ?? OPTION_DEFAULTS.connectTimeoutMs;
    this.policy = new ReconnectPolicy(
      options.reconnect,
      options.random ?? Math.random,
    );
    this.queue = new SendQueue(
      options.maxQueuedMessages ?? OPTION_DEFAULTS.maxQueuedMessages,
    );
    this.Socket = options.WebSocket;
    this.clock = options.clock ?? defaultClock;
    this.requests = new RequestTable(this.clock);
  }

  /** Where the connection stands. */
  get state(): ClientState {
    return this.connection.state;
  }

  /** The rooms this client is in, joined again after every reconnection. */
  get rooms(): string[] {
    return [...this.joined];
  }

  /** Requests waiting for their reply, queued ones included. */
  get pendingRequests(): number {
    return this.requests.size;
  }

  /** Frames waiting for a connection. */
  get queuedMessages(): number {
    return this.queue.size;
  }

  /**
   * Opens the connection; resolves once it is open. A failed attempt is retried with backoff
   * (unless `reconnect: false`); rejects with `HandshakeRefusedError` when the handshake is refused
   * for good (401, 403, 404) and with the last error when the client gives up. `token` replaces
   * the token, for the `tokenExpired` path.
   */
  connect(
    options: { token?: GatewayClientOptions['token'] } = {},
  ): Promise<void> {
    if (options.token !== undefined) this.token = options.token;
    const state = this.connection.state;
    if (state === 'open') return Promise.resolve();
    const opened = new Promise<void>((resolve, reject) =>
      this.connectWaiters.push({ resolve, reject }),
    );
    if (state === 'idle' || state === 'closed') {
      this.userClosed = false;
      this.terminal = undefined;
      this.policy.reset();
      void this.attempt();
    }
    return opened;
  }

  /**
   * Closes the connection and stops reconnecting. Requests in flight and queued frames are
   * rejected with `ConnectionClosedError`; the rooms are forgotten. Resolves once closed.
   */
  close(
    code: number = CloseCode.NORMAL,
    reason = 'client closed',
  ): Promise<void> {
    const error = new ConnectionClosedError(code, reason);
    this.userClosed = true;
    this.connection.forgetOpened();
    this.joined.clear();
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.fail(error);
    const socket = this.socket;
    if (!socket || socket.readyState === 3) {
      this.socket = undefined;
      return Promise.resolve();
    }
    const closed = new Promise<void>((resolve) =>
      socket.addEventListener('close', () => resolve()),
    );
    socket.close(code, reason);
    return closed;
  }

  /**
   * Sends `{event, data, id}` and resolves with the reply's `data`. Rejects with `RequestError`
   * (an error frame: `code` says which), `RequestTimeoutError`, `ConnectionClosedError` (a drop
   * while in flight, or the client closed), or `QueueFullError` (disconnected, queue full).
   * While disconnected the request waits in the queue; its timeout runs from this call.
   */
  request<T = unknown>(
    event: string,
    data?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.terminal) {
        reject(this.terminal);
        return;
      }
      const id = this.requests.nextId();
      let text: string;
      try {
        text = JSON.stringify({ event, data, id });
      } catch (err) {
        reject(err as Error);
        return;
      }
      const timeoutMs = timerDelay(
        Math.max(0, options.timeoutMs ?? this.requestTimeoutMs),
      );
      let entry: Queued | undefined;
      if (this.connection.state === 'open' && this.socket) {
        this.socket.send(text);
      } else {
        entry = { text, id };
        try {
          this.queue.push(entry);
        } catch (err) {
          reject(err as Error);
          return;
        }
      }
      const queued = entry;
      this.requests.add({
        event,
        id,
        timeoutMs,
        resolve: resolve as (data: unknown) => void,
        reject,
        sent: !queued,
        onTimeout: queued ? () => this.queue.remove(queued) : undefined,
      });
    });
  }

  /**
   * Sends `{event, data}` with no id: no reply is awaited, errors come as `error` pushes. Queued
   * while disconnected; throws `QueueFullError` when the queue is full, and the closing error
   * once the client is closed.
   */
  send(event: string, data?: unknown): void {
    this.sendRaw(JSON.stringify({ event, data }));
  }

  /** Sends a text frame as it is (an envelope you wrote, or plain text); queued like `send`. */
  sendRaw(text: string): void {
    if (this.terminal) throw this.terminal;
    if (this.connection.state === 'open' && this.socket) this.socket.send(text);
    else this.queue.push({ text });
  }

  /** Every other client, on every instance, gets a `broadcast` push. */
  broadcast(
    data: unknown,
    options?: RequestOptions,
  ): Promise<BroadcastReceipt> {
    return this.request<BroadcastReceipt>('broadcast', data, options);
  }

  /** Joins a room: its `message` pushes reach this client, after reconnections too. */
  async join(
    room: string,
    options?: RequestOptions,
  ): Promise<{ room: string }> {
    const reply = await this.request<{ room: string }>(
      'join',
      { room },
      options,
    );
    this.joined.add(room);
    return reply;
  }

  /** Leaves a room. */
  async leave(
    room: string,
    options?: RequestOptions,
  ): Promise<{ room: string }> {
    const reply = await this.request<{ room: string }>(
      'leave',
      { room },
      options,
    );
    this.joined.delete(room);
    return reply;
  }

  /** Every member of the room but this client, on every instance, gets a `message` push. */
  publish(
    room: string,
    data: unknown,
    options?: RequestOptions,
  ): Promise<PublishReceipt> {
    return this.request<PublishReceipt>('publish', { room, data }, options);
  }

  /**
   * Listens to a lifecycle event (`open`, `close`, `state`, ...); pushes go to {@link GatewayClient.onPush}.
   * Returns a function that removes the handler.
   */
  on<K extends keyof LifecycleEvents>(
    event: K,
    handler: (info: LifecycleEvents[K]) => void,
  ): () => void;
  /**
   * @deprecated Use `onPush`: here a push named like a lifecycle event never arrives.
   */
  on<K extends keyof PushEvents>(
    event: K,
    handler: PushHandler<PushEvents[K]>,
  ): () => void;
  /**
   * @deprecated Use `onPush`: here a push named like a lifecycle event never arrives.
   */
  on(event: string, handler: PushHandler): () => void;
  on(event: string, handler: Handler): () => void {
    this.events.on(event, handler);
    return () => this.off(event, handler);
  }

  /** Listens to a lifecycle event once. */
  once<K extends keyof LifecycleEvents>(
    event: K,
    handler: (info: LifecycleEvents[K]) => void,
  ): () => void;
  /**
   * @deprecated Use `onPush` and call the function it returns.
   */
  once(event: string, handler: PushHandler): () => void;
  once(event: string, handler: Handler): () => void {
    const off = this.on(event, (...args: unknown[]) => {
      off();
      handler(...args);
    });
    return off;
  }

  /** Removes a handler given to `on` or `once`. */
  off(event: string, handler: Handler): void {
    this.events.off(event, handler);
  }

  /**
   * Listens to the pushes of an event: the protocol's (`broadcast`, `message`, `error`) or any
   * name a host's server sends, lifecycle names included. Returns a function that removes it.
   */
  onPush<K extends keyof PushEvents>(
    event: K,
    handler: PushHandler<PushEvents[K]>,
  ): () => void;
  onPush<T = unknown>(event: string, handler: PushHandler<T>): () => void;
  onPush(event: string, handler: PushHandler): () => void {
    this.events.onPush(event, handler);
    return () => this.offPush(event, handler);
  }

  /** Removes a handler given to `onPush`. */
  offPush(event: string, handler: PushHandler<any>): void {
    this.events.offPush(event, handler);
  }

  private emit<K extends keyof LifecycleEvents>(
    event: K,
    info: LifecycleEvents[K],
  ): void {
    this.events.emit(event, info);
  }

  private setState(next: ClientState): void {
    const change =
      next === 'open' ? this.connection.open() : this.connection.moveTo(next);
    if (change) this.emit('state', change);
  }

  private async socketClass(): Promise<WebSocketConstructor> {
    if (!this.Socket) {
      const loaded = await loadWebSocket();
      this.Socket = loaded.Socket;
      this.socketIsWs = loaded.isWs;
    }
    return this.Socket;
  }

  /** One connection attempt. */
  private async attempt(): Promise<void> {
    const generation = ++this.generation;
    this.setState(this.connection.attemptState);
    let Socket: WebSocketConstructor;
    let token: string | undefined;
    try {
      Socket = await this.socketClass();
      token =
        typeof this.token === 'function' ? await this.token() : this.token;
    } catch (err) {
      if (generation !== this.generation || this.userClosed) return;
      this.attemptFailed(
        err instanceof GatewayClientError
          ? err
          : new GatewayClientError(String((err as Error)?.message ?? err)),
        undefined,
      );
      return;
    }
    if (generation !== this.generation || this.userClosed) return;
    const current = () => generation === this.generation;
    let socket: WebSocketLike;
    try {
      socket = dial(
        Socket,
        {
          url: this.url,
          token,
          tokenIn: this.tokenIn ?? (this.socketIsWs ? 'header' : 'query'),
          connectTimeoutMs: this.connectTimeoutMs,
          clock: this.clock,
        },
        {
          open: () => {
            if (current()) void this.opened(socket);
          },
          message: (text) => {
            if (current()) this.received(text);
          },
          closed: (code, reason) => {
            if (this.socket === socket) this.socket = undefined;
            if (current()) this.closed(code, reason);
          },
          failed: (error, status) => {
            if (this.socket === socket) this.socket = undefined;
            if (current()) this.attemptFailed(error, status);
          },
        },
      );
    } catch (err) {
      // A malformed URL: no attempt can ever succeed.
      this.fail(new GatewayClientError((err as Error).message));
      return;
    }
    this.socket = socket;
  }

  /** The socket opened: join the rooms again, then deliver the queue. */
  private async opened(socket: WebSocketLike): Promise<void> {
    if (this.userClosed || this.socket !== socket) return;
    const reconnected = this.connection.hasOpened;
    const failedRooms: Array<{ room: string; error: GatewayClientError }> = [];
    if (reconnected && this.joined.size > 0) {
      const rooms = [...this.joined];
      const results = await Promise.allSettled(
        rooms.map((room) => this.requestNow(socket, 'join', { room })),
      );
      // Dropped again while joining: that close has been handled (a retry is scheduled).
      if (this.socket !== socket || this.userClosed) return;
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') return;
        // Refused (FORBIDDEN, BAD_REQUEST) or unanswered: the room is lost, and the app told.
        this.joined.delete(rooms[i]);
        failedRooms.push({
          room: rooms[i],
          error: result.reason as GatewayClientError,
        });
      });
    }
    // Only now is the backoff reset: a server that accepts and drops at once still backs off.
    const attempts = this.policy.reset();
    this.setState('open');
    for (const entry of this.queue.drain()) {
      if (entry.id !== undefined) this.requests.markSent(entry.id);
      socket.send(entry.text);
    }
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.emit('open', { reconnected });
    if (reconnected) {
      this.emit('reconnected', {
        attempts,
        rooms: [...this.joined],
        failedRooms,
      });
    }
  }

  /** A request sent on a given socket at once, bypassing the queue (the rejoin). */
  private requestNow(
    socket: WebSocketLike,
    event: string,
    data: unknown,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.requests.nextId();
      this.requests.add({
        event,
        id,
        timeoutMs: this.requestTimeoutMs,
        resolve,
        reject,
        sent: true,
      });
      socket.send(JSON.stringify({ event, data, id }));
    });
  }

  private received(text: string): void {
    this.emit('frame', text);
    const frame = parseFrame(text);
    if (!frame) {
      this.emit('text', text);
      return;
    }
    if (frame.id !== undefined) {
      this.requests.settle(frame.id, frame.event, frame.data);
      return;
    }
    this.events.push(frame);
  }

  /** An open connection closed. */
  private closed(code: number, reason: string): void {
    const error = new ConnectionClosedError(code, reason);
    this.requests.rejectSent(error);
    if (this.userClosed) {
      this.emit('close', { code, reason, willReconnect: false });
      return;
    }
    const next = this.policy.afterClose(code);
    if (next === 'tokenExpired') {
      // Not terminal: the queue and the rooms wait for the app's connect({ token }).
      this.setState('closed');
      this.emit('close', { code, reason, willReconnect: false });
      this.emit('tokenExpired', { code, reason });
      return;
    }
    const willReconnect = next === 'reconnect';
    this.emit('close', { code, reason, willReconnect });
    if (willReconnect) this.scheduleRetry(error);
    else this.fail(error);
  }

  /** An attempt ended before the socket opened. */
  private attemptFailed(
    error: GatewayClientError,
    status: number | undefined,
  ): void {
    if (this.userClosed) return;
    this.emit('connectError', { attempt: this.policy.failures, error });
    if (this.policy.retriesAttempt(status)) this.scheduleRetry(error);
    else this.fail(error);
  }

  private scheduleRetry(error: GatewayClientError): void {
    const next = this.policy.next();
    if (!next.retry) {
      this.emit('reconnectFailed', { attempts: next.attempts, error });
      this.fail(error);
      return;
    }
    const { attempt, delayMs } = next;
    this.setState(this.connection.attemptState);
    this.emit('reconnecting', { attempt, delayMs, error });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delayMs);
  }

  /** Closed for good: everything waiting is rejected with `error`. */
  private fail(error: GatewayClientError): void {
    this.terminal = error;
    this.setState('closed');
    this.requests.rejectAll(error);
    this.queue.drain();
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
  }
}
