import { backoffDelay, type BackoffOptions } from './backoff.js';
import {
  ConnectionClosedError,
  GatewayClientError,
  HandshakeRefusedError,
  RequestError,
  RequestTimeoutError,
} from './errors.js';
import {
  CloseCode,
  parseFrame,
  type BroadcastPush,
  type BroadcastReceipt,
  type ErrorPayload,
  type Frame,
  type PublishReceipt,
  type RequestId,
  type RoomMessagePush,
} from '../protocol/index.js';
import { SendQueue } from './send-queue.js';

/**
 * The part of the WebSocket API the client uses: the browser's, which `ws` implements as well
 * (with a third constructor argument for options such as headers).
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket class: the browser's global one, `ws`'s, or a test's. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** Timers, injectable so that a unit test can drive time. */
export interface ClientClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Reconnection: exponential backoff with jitter, and how many attempts before giving up. */
export interface ReconnectOptions extends BackoffOptions {
  /** Attempts after a drop before the client gives up; `Infinity` never gives up. Default 10. */
  maxRetries?: number;
}

export interface GatewayClientOptions {
  /** `ws://host:8765/` or `wss://...`. */
  url: string;
  /**
   * The token the handshake presents, or a function asked before every attempt (to hand over a
   * refreshed token). Omitted: no token (a gateway with `AUTH_DISABLED=true`).
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Where the token goes: `header` (`Authorization: Bearer`, only possible with `ws` in Node) or
   * `query` (`?token=`, what a browser must use). Default: `header` when the client loaded `ws`
   * itself, `query` with a global or given `WebSocket`.
   */
  tokenIn?: 'header' | 'query';
  /** How long a request waits for its reply, in ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a connection attempt may take, handshake included, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** `false`: never reconnect. Default: on, with the defaults of {@link ReconnectOptions}. */
  reconnect?: boolean | ReconnectOptions;
  /** Frames kept while disconnected; one more is refused with `QueueFullError`. Default 100. */
  maxQueuedMessages?: number;
  /** The WebSocket class. Default: the global `WebSocket`, else `ws` (loaded on first use). */
  WebSocket?: WebSocketConstructor;
  /** Timers. Default: the global `setTimeout` / `clearTimeout`. */
  clock?: ClientClock;
  /** A number in [0, 1), for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
}

/**
 * `idle` (never connected), `connecting` (first attempt), `open`, `reconnecting` (waiting for the
 * next attempt, or in one, or joining the rooms again), `closed` (closed, refused or given up).
 */
export type ClientState =
  'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A connection that closed. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the client will try again on its own. */
  willReconnect: boolean;
}

/**
 * The events of the connection itself, for `on`. A push is never one of them, whatever its name:
 * pushes reach `onPush` handlers.
 */
export interface LifecycleEvents {
  /** The connection is open (and, after a reconnect, the rooms joined again). */
  open: { reconnected: boolean };
  close: CloseInfo;
  /**
   * An attempt failed: the network, a timeout, or a refused handshake (`HandshakeRefusedError`).
   * `attempt`: 0 for the try `connect()` makes, n for the nth retry.
   */
  connectError: { attempt: number; error: GatewayClientError };
  /** The next attempt is `delayMs` away. */
  reconnecting: { attempt: number; delayMs: number; error: GatewayClientError };
  /**
   * Connected again after a drop, rooms joined again (`failedRooms`: those refused or unanswered).
   * `attempts`: which attempt succeeded (1 the first; 0 when the app called `connect()`).
   */
  reconnected: {
    attempts: number;
    rooms: string[];
    failedRooms: Array<{ room: string; error: GatewayClientError }>;
  };
  /** `maxRetries` attempts failed: the client is `closed`. */
  reconnectFailed: { attempts: number; error: GatewayClientError };
  /** Closed with 4401: call `connect({ token })` with a fresh token; rooms are joined again. */
  tokenExpired: { code: number; reason: string };
  state: { state: ClientState; previous: ClientState };
  /** Every frame received, as its raw text. */
  frame: string;
  /** A plain-text frame (`server received: ...`). */
  text: string;
}

/** The pushes of protocol v1 and their data, for `onPush`; a host's own events are `unknown`. */
export interface PushEvents {
  broadcast: BroadcastPush;
  message: RoomMessagePush;
  /** An error frame without an id (a request sent with `send`, which has none). */
  error: ErrorPayload;
}

export type PushHandler<T = any> = (data: T, frame: Frame) => void;

export interface RequestOptions {
  /** Overrides `requestTimeoutMs` for this request. */
  timeoutMs?: number;
}

/** Which names `on` keeps for the connection; any other goes to the pushes (the old form). */
const LIFECYCLE: ReadonlySet<string> = new Set<keyof LifecycleEvents>([
  'open',
  'close',
  'connectError',
  'reconnecting',
  'reconnected',
  'reconnectFailed',
  'tokenExpired',
  'state',
  'frame',
  'text',
]);

/**
 * Close codes after which trying again can work: the server went away or restarts (1001, 1012),
 * the connection dropped (1005, 1006), a server fault (1011), too slow a reader (1013), a proxy
 * (1014). After any other the server meant it: 1000 (closed on purpose), 1008 (policy: flooding),
 * 4401 (the token expired: only a new token helps), and the client's own protocol faults.
 */
const RECONNECT_CODES: ReadonlySet<number> = new Set([
  1001, 1005, 1006, 1011, 1012, 1013, 1014,
]);

/** Handshake answers worth another attempt: the server is draining, full, or behind a proxy. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const DEFAULTS = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxQueuedMessages: 100,
  maxRetries: 10,
};

interface Pending {
  event: string;
  id: RequestId;
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: unknown;
  /** On the wire: a drop rejects it (it may have been carried out). */
  sent: boolean;
  entry?: Queued;
}

interface Queued {
  text: string;
  pending?: Pending;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

type Handler = (...args: any[]) => void;

/** Handlers by event name. */
type Handlers = Map<string, Set<Handler>>;

const defaultClock: ClientClock = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) =>
    globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

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
  private readonly reconnect: ReconnectOptions | false;
  private readonly clock: ClientClock;
  private readonly random: () => number;
  private readonly queue: SendQueue<Queued>;
  // Two namespaces: a server may push any event name, `state` or `close` included.
  private readonly lifecycleHandlers: Handlers = new Map();
  private readonly pushHandlers: Handlers = new Map();
  private readonly pending = new Map<RequestId, Pending>();
  private readonly joined = new Set<string>();
  private Socket?: WebSocketConstructor;
  private socketIsWs = false;
  private socket?: WebSocketLike;
  private current: ClientState = 'idle';
  private generation = 0;
  private nextId = 0;
  /** Failed attempts since the last open. */
  private failures = 0;
  private retryTimer: unknown;
  /** Opened once since the last `close()`: a later open is a reconnection. */
  private hasOpened = false;
  private userClosed = false;
  /** Why the client is closed for good; sends are refused with it until `connect()`. */
  private terminal?: GatewayClientError;
  private connectWaiters: Waiter[] = [];

  constructor(options: GatewayClientOptions) {
    this.url = options.url;
    this.token = options.token;
    this.tokenIn = options.tokenIn;
    this.requestTimeoutMs =
      options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.connectTimeoutMs =
      options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.reconnect =
      options.reconnect === false
        ? false
        : options.reconnect === true || options.reconnect === undefined
          ? {}
          : options.reconnect;
    this.queue = new SendQueue(
      options.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages,
    );
    this.Socket = options.WebSocket;
    this.clock = options.clock ?? defaultClock;
    this.random = options.random ?? Math.random;
  }

  /** Where the connection stands. */
  get state(): ClientState {
    return this.current;
  }

  /** The rooms this client is in, joined again after every reconnection. */
  get rooms(): string[] {
    return [...this.joined];
  }

  /** Requests waiting for their reply, queued ones included. */
  get pendingRequests(): number {
    return this.pending.size;
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
    if (this.current === 'open') return Promise.resolve();
    const opened = new Promise<void>((resolve, reject) =>
      this.connectWaiters.push({ resolve, reject }),
    );
    if (this.current === 'idle' || this.current === 'closed') {
      this.userClosed = false;
      this.terminal = undefined;
      this.failures = 0;
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
    this.hasOpened = false;
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
      const id = ++this.nextId;
      let text: string;
      try {
        text = JSON.stringify({ event, data, id });
      } catch (err) {
        reject(err as Error);
        return;
      }
      const timeoutMs = Math.min(
        MAX_TIMER_MS,
        Math.max(0, options.timeoutMs ?? this.requestTimeoutMs),
      );
      const pending: Pending = {
        event,
        id,
        resolve: resolve as (data: unknown) => void,
        reject,
        timer: undefined,
        sent: false,
      };
      if (this.current === 'open' && this.socket) {
        pending.sent = true;
        this.socket.send(text);
      } else {
        const entry: Queued = { text, pending };
        try {
          this.queue.push(entry);
        } catch (err) {
          reject(err as Error);
          return;
        }
        pending.entry = entry;
      }
      pending.timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        if (pending.entry) this.queue.remove(pending.entry);
        reject(new RequestTimeoutError(event, id, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, pending);
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
    if (this.current === 'open' && this.socket) this.socket.send(text);
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
    if (!LIFECYCLE.has(event)) return this.onPush(event, handler);
    add(this.lifecycleHandlers, event, handler);
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
    if (LIFECYCLE.has(event)) {
      this.lifecycleHandlers.get(event)?.delete(handler);
    } else {
      this.offPush(event, handler);
    }
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
    add(this.pushHandlers, event, handler);
    return () => this.offPush(event, handler);
  }

  /** Removes a handler given to `onPush`. */
  offPush(event: string, handler: PushHandler<any>): void {
    this.pushHandlers.get(event)?.delete(handler);
  }

  private emit<K extends keyof LifecycleEvents>(
    event: K,
    info: LifecycleEvents[K],
  ): void {
    dispatch(this.lifecycleHandlers, event, [info]);
  }

  private setState(next: ClientState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    this.emit('state', { state: next, previous });
  }

  private async socketClass(): Promise<WebSocketConstructor> {
    if (this.Socket) return this.Socket;
    const global = (globalThis as { WebSocket?: WebSocketConstructor })
      .WebSocket;
    if (global) {
      this.Socket = global;
    } else {
      // A variable specifier: browser bundlers leave it alone; this line only runs in Node.
      const specifier = 'ws';
      const ws = (await import(specifier)) as {
        WebSocket?: WebSocketConstructor;
        default?: WebSocketConstructor;
      };
      this.Socket = ws.WebSocket ?? ws.default;
      this.socketIsWs = true;
    }
    if (!this.Socket) throw new GatewayClientError('no WebSocket available');
    return this.Socket;
  }

  /** One connection attempt. */
  private async attempt(): Promise<void> {
    const generation = ++this.generation;
    this.setState(this.hasOpened ? 'reconnecting' : 'connecting');
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
    const header =
      (this.tokenIn ?? (this.socketIsWs ? 'header' : 'query')) === 'header';
    let socket: WebSocketLike;
    try {
      let url = this.url;
      if (token && !header) {
        const u = new URL(this.url);
        u.searchParams.set('token', token);
        url = u.toString();
      }
      socket =
        token && header
          ? new Socket(url, undefined, {
              headers: { Authorization: `Bearer ${token}` },
            })
          : new Socket(url);
    } catch (err) {
      // A malformed URL: no attempt can ever succeed.
      this.fail(new GatewayClientError((err as Error).message));
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    let opened = false;
    let status: number | undefined;
    let cause: string | undefined;
    const timer = this.clock.setTimeout(
      () => {
        cause = `no connection within ${this.connectTimeoutMs} ms`;
        abort(socket);
      },
      Math.min(MAX_TIMER_MS, this.connectTimeoutMs),
    );
    // ws tells the HTTP status of a refused handshake on this event; a browser never does.
    const emitter = socket as unknown as {
      once?: (event: string, listener: (...args: any[]) => void) => void;
    };
    if (typeof emitter.once === 'function') {
      emitter.once(
        'unexpected-response',
        (_req, res: { statusCode?: number }) => {
          status = res.statusCode;
          abort(socket);
        },
      );
    }
    socket.addEventListener('open', () => {
      this.clock.clearTimeout(timer);
      if (generation !== this.generation) return;
      opened = true;
      void this.opened(socket);
    });
    socket.addEventListener('message', (event: { data: unknown }) => {
      if (generation !== this.generation) return;
      if (typeof event.data === 'string') this.received(event.data);
    });
    socket.addEventListener(
      'error',
      (event: { message?: string; error?: Error }) => {
        cause ??= event?.message ?? event?.error?.message;
      },
    );
    socket.addEventListener(
      'close',
      (event: { code: number; reason: string }) => {
        this.clock.clearTimeout(timer);
        if (this.socket === socket) this.socket = undefined;
        if (generation !== this.generation) return;
        if (opened) this.closed(event.code, event.reason ?? '');
        else
          this.attemptFailed(
            status !== undefined
              ? new HandshakeRefusedError(status)
              : new ConnectionClosedError(
                  event.code,
                  cause ?? event.reason ?? '',
                ),
            status,
          );
      },
    );
  }

  /** The socket opened: join the rooms again, then deliver the queue. */
  private async opened(socket: WebSocketLike): Promise<void> {
    if (this.userClosed || this.socket !== socket) return;
    const reconnected = this.hasOpened;
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
    const attempts = this.failures;
    this.failures = 0;
    this.hasOpened = true;
    this.setState('open');
    for (const entry of this.queue.drain()) {
      if (entry.pending) {
        entry.pending.sent = true;
        entry.pending.entry = undefined;
      }
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
      const id = ++this.nextId;
      const pending: Pending = {
        event,
        id,
        resolve,
        reject,
        sent: true,
        timer: this.clock.setTimeout(
          () => {
            this.pending.delete(id);
            reject(new RequestTimeoutError(event, id, this.requestTimeoutMs));
          },
          Math.min(MAX_TIMER_MS, this.requestTimeoutMs),
        ),
      };
      this.pending.set(id, pending);
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
      // A reply. One nobody waits for (it came after its timeout) is dropped.
      const pending = this.pending.get(frame.id);
      if (!pending || !pending.sent) return;
      this.pending.delete(frame.id);
      this.clock.clearTimeout(pending.timer);
      if (frame.event === 'error') {
        pending.reject(
          new RequestError(frame.data as ErrorPayload, pending.event, frame.id),
        );
      } else {
        pending.resolve(frame.data);
      }
      return;
    }
    dispatch(this.pushHandlers, frame.event, [frame.data, frame]);
  }

  /** An open connection closed. */
  private closed(code: number, reason: string): void {
    const error = new ConnectionClosedError(code, reason);
    this.rejectInFlight(error);
    if (this.userClosed) {
      this.emit('close', { code, reason, willReconnect: false });
      return;
    }
    if (code === CloseCode.TOKEN_EXPIRED) {
      // Not terminal: the queue and the rooms wait for the app's connect({ token }).
      this.setState('closed');
      this.emit('close', { code, reason, willReconnect: false });
      this.emit('tokenExpired', { code, reason });
      return;
    }
    const willReconnect =
      this.reconnect !== false &&
      (this.reconnect.maxRetries ?? DEFAULTS.maxRetries) > 0 &&
      RECONNECT_CODES.has(code);
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
    this.emit('connectError', { attempt: this.failures, error });
    const retry =
      this.reconnect !== false &&
      (status === undefined || RETRY_STATUSES.has(status));
    if (retry) this.scheduleRetry(error);
    else this.fail(error);
  }

  private scheduleRetry(error: GatewayClientError): void {
    if (this.reconnect === false) return;
    const attempt = ++this.failures;
    const maxRetries = this.reconnect.maxRetries ?? DEFAULTS.maxRetries;
    if (attempt > maxRetries) {
      this.emit('reconnectFailed', { attempts: attempt - 1, error });
      this.fail(error);
      return;
    }
    const delayMs = backoffDelay(attempt, this.reconnect, this.random);
    this.setState(this.hasOpened ? 'reconnecting' : 'connecting');
    this.emit('reconnecting', { attempt, delayMs, error });
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, delayMs);
  }

  /** Requests on the wire at a drop: rejected, never sent again (they may have been carried out). */
  private rejectInFlight(error: GatewayClientError): void {
    for (const [id, pending] of this.pending) {
      if (!pending.sent) continue;
      this.pending.delete(id);
      this.clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
  }

  /** Closed for good: everything waiting is rejected with `error`. */
  private fail(error: GatewayClientError): void {
    this.terminal = error;
    this.setState('closed');
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      this.clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.queue.drain();
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
  }
}

function add(handlers: Handlers, event: string, handler: Handler): void {
  let set = handlers.get(event);
  if (!set) handlers.set(event, (set = new Set()));
  set.add(handler);
}

function dispatch(handlers: Handlers, event: string, args: unknown[]): void {
  const set = handlers.get(event);
  if (!set) return;
  // A copy: a handler that adds another must not have it called for this same emission.
  for (const handler of Array.from(set)) {
    try {
      handler(...args);
    } catch (err) {
      // As EventTarget does: the other handlers still run, the error is reported, not eaten.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}

/** Ends an attempt that has not opened: `ws` can terminate; a browser socket only closes. */
function abort(socket: WebSocketLike): void {
  const ws = socket as unknown as { terminate?: () => void };
  if (typeof ws.terminate === 'function') ws.terminate();
  else socket.close();
}
