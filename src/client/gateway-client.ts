import { backoffDelay, type BackoffOptions } from './backoff.js';
import { defaultClock, timerDelay, type ClientClock } from './clock.js';
import { ConnectionState, type ClientState } from './connection-state.js';
import {
  ConnectionClosedError,
  GatewayClientError,
  RequestError,
  RequestTimeoutError,
} from './errors.js';
import type {
  AnyEvents,
  EventMap,
  ExplicitPush,
  ExplicitReply,
  PushArg,
  PushData,
  PushName,
  Reply,
  RequestData,
  RequestName,
  TypedName,
  UntypedName,
} from './event-map.js';
import {
  ClientEvents,
  type Handler,
  type LifecycleEvents,
  type PushEvents,
  type PushHandler,
} from './events.js';
import {
  OPTION_DEFAULTS,
  RESUME_RETRY_DEFAULTS,
  type GatewayClientOptions,
} from './options.js';
import {
  CloseCode,
  parseFrame,
  type BroadcastReceipt,
  type ErrorPayload,
  type HistoryReply,
  type JoinReply,
  type PresenceReply,
  type PublishReceipt,
  type RequestId,
  type StreamPosition,
} from '../protocol/index.js';
import { ReconnectPolicy } from './reconnect-policy.js';
import { RequestTable } from './request-table.js';
import { matchResume } from './resume.js';
import {
  RoomMembers,
  type MembersAction,
  type RoomPresence,
} from './room-members.js';
import { RoomPositions, type PositionAction } from './room-positions.js';
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
  RoomPending,
} from './events.js';
export type { GatewayClientOptions } from './options.js';
export type { ReconnectOptions } from './reconnect-policy.js';
export type {
  PresenceCause,
  PresenceEvent,
  RoomMember,
  RoomPresence,
} from './room-members.js';
export type { RoomRecovery } from './room-positions.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';

/** Options of one request. */
export interface RequestOptions {
  /** Overrides `requestTimeoutMs` for this request. */
  timeoutMs?: number;
}

/**
 * What follows the event name in `request()` with a typed map: the `data` (which may be left out
 * when the map makes it optional), then the options.
 */
export type RequestArgs<M extends EventMap, K extends RequestName<M>> =
  undefined extends RequestData<M, K>
    ? [data?: RequestData<M, K>, options?: RequestOptions]
    : [data: RequestData<M, K>, options?: RequestOptions];

/** What follows the event name in `send()` with a typed map: the `data`, as for `request()`. */
export type SendArgs<M extends EventMap, K extends RequestName<M>> =
  undefined extends RequestData<M, K>
    ? [data?: RequestData<M, K>]
    : [data: RequestData<M, K>];

/**
 * The pushes `onPush` types at once: the protocol's for an untyped map (others take a type
 * argument), every push of a typed one.
 */
type KnownPush<M extends EventMap> =
  string extends PushName<M> ? keyof PushEvents : PushName<M>;

/** What `history()` reads: the kept messages after `since` (else the newest), at most `limit`. */
export interface HistoryOptions extends RequestOptions {
  since?: StreamPosition;
  /** At most this many messages (the server's default 100, at most its recovery limit). */
  limit?: number;
}

/** How `join()` joins. */
export interface JoinOptions extends RequestOptions {
  /**
   * Also subscribe to the room's presence: the reply's `presence` seeds the member list that
   * `members(room)` returns and the `presence` event reports, kept up to date by the server's
   * pushes and asked for again after every reconnection. A room stays so until `leave()`.
   */
  presence?: boolean;
}

/** What `presence()` asks. */
export interface PresenceOptions extends RequestOptions {
  /** Only the member count: the reply has no `members`. */
  countOnly?: boolean;
}

/** Why presence is not resumed by a gateway without `resume` (the fallback joins do not ask it). */
const NO_RESUME_PRESENCE: ErrorPayload = {
  code: 'UNAVAILABLE',
  message:
    'the gateway does not take resume: presence is asked again on the next reconnection',
};

/** Called, synchronously, as a request settles: before anything that awaits it runs. */
interface Settled {
  reply?(data: unknown, id: RequestId): void;
  error?(err: Error): void;
}

/** A frame waiting for a connection; `id` when it is a request's. */
interface Queued {
  text: string;
  id?: RequestId;
}

/** A room a `resume` could not join again: for good (lost), or for now (pending). */
type FailedRoom = { room: string; error: GatewayClientError };

/** What a `resume` made of its rooms. */
interface ResumeOutcome {
  /** Joined again. */
  resumed: string[];
  /** Refused for good, or unanswered by an older gateway: left. */
  failed: FailedRoom[];
  /** Not joined for now (`UNAVAILABLE`, no reply): still joined, to be resumed again. */
  pending: FailedRoom[];
  /** The rooms of `failed` that were pending before. */
  failedPending: Set<string>;
}

/**
 * Whether a failed `resume` (or one room's entry) is worth asking again on the same connection:
 * the server's store is away for a moment (`UNAVAILABLE`, "safe to retry"), or no reply came.
 */
function retriesResume(err: unknown): err is GatewayClientError {
  return (
    (err instanceof RequestError && err.code === 'UNAVAILABLE') ||
    err instanceof RequestTimeoutError
  );
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
 *
 * `M`, an event map (`StandardEvents`, or a host's map generated by `npm run asyncapi`), types
 * `request`, `send` and `onPush`: an event or a field the map does not have is a type error, and
 * a reply has the map's type. Without it ({@link AnyEvents}) any name goes, and replies are
 * `unknown` unless given as `request<T>()`.
 */
export class GatewayClient<M extends EventMap = AnyEvents> {
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
  private readonly positions: RoomPositions;
  private readonly roomMembers = new RoomMembers();
  private Socket?: WebSocketConstructor;
  private socketIsWs = false;
  private socket?: WebSocketLike;
  /** Bumped by every attempt: events of an older socket are ignored. */
  private generation = 0;
  private retryTimer: unknown;
  /** Rooms still joined that a `resume` could not join for now, and why: resumed again soon. */
  private readonly pending = new Map<string, GatewayClientError>();
  private readonly resumeRetry: BackoffOptions;
  private readonly random: () => number;
  /** The next `resume` of the pending rooms, while the connection stays open. */
  private pendingTimer: unknown;
  /** That `resume` is awaiting its reply. */
  private resumingPending = false;
  /** Resumes in a row that left rooms pending: the backoff's attempt. */
  private pendingAttempts = 0;
  /**
   * Rooms with a `leave` awaiting its reply: never resumed by a retry meanwhile. `pending`: why
   * the room was (or became) pending, should the `leave` fail and the room stay joined.
   */
  private readonly leaving = new Map<
    string,
    { count: number; pending?: GatewayClientError }
  >();
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
    this.random = options.random ?? Math.random;
    this.policy = new ReconnectPolicy(options.reconnect, this.random);
    this.resumeRetry = { ...RESUME_RETRY_DEFAULTS, ...options.resumeRetry };
    this.queue = new SendQueue(
      options.maxQueuedMessages ?? OPTION_DEFAULTS.maxQueuedMessages,
    );
    this.Socket = options.WebSocket;
    this.clock = options.clock ?? defaultClock;
    this.requests = new RequestTable(this.clock);
    this.positions = new RoomPositions(
      options.maxHeldMessages ?? OPTION_DEFAULTS.maxHeldMessages,
    );
  }

  /** Where the connection stands. */
  get state(): ClientState {
    return this.connection.state;
  }

  /** The rooms this client is in, joined again after every reconnection. */
  get rooms(): string[] {
    return [...this.joined];
  }

  /**
   * The rooms among `rooms` that the server could not join again for now (`UNAVAILABLE`, no
   * reply): each keeps its position and is resumed again shortly (the `roomPending` event).
   */
  get pendingRooms(): string[] {
    return [...this.pending.keys()];
  }

  /**
   * Where the app is in a joined room's stream: the offset of the last `message` delivered and
   * its epoch. Undefined for a room without history, or not joined with `join()`.
   */
  position(room: string): StreamPosition | undefined {
    return this.positions.position(room);
  }

  /**
   * The members of a room joined with `join(room, { presence: true })`, as the join reply and the
   * `presence` pushes since made them: `{ members, count }`, or `{ count }` alone while the room is
   * too large to list. Undefined for a room not joined with presence, or whose presence the server
   * could not give (the `presence` event said `error`).
   */
  members(room: string): RoomPresence | undefined {
    return this.roomMembers.members(room);
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
    this.stopPendingRetry();
    this.pending.clear();
    this.pendingAttempts = 0;
    this.leaving.clear();
    this.fail(error);
    this.positions.clear();
    this.roomMembers.clear();
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
   *
   * With a typed map the event is one of the map's, `data` its payload (which may be left out
   * only where the map makes it optional), and the reply has the map's type; `T`, the reply's
   * type, is for an untyped map (the default), where it is `unknown` unless given.
   */
  request<
    T extends ExplicitReply<M> = ExplicitReply<M>,
    // Written out, not as `RequestName<M>`: an error then lists the map's events.
    K extends keyof M['requests'] & string = keyof M['requests'] & string,
  >(event: K, ...args: RequestArgs<M, K>): Promise<Reply<M, K, T>>;
  request(
    event: string,
    data?: unknown,
    options: RequestOptions = {},
  ): Promise<unknown> {
    return this.call(event, data, options);
  }

  /** {@link GatewayClient.request}, with `settled` told of the outcome before any awaiter. */
  private call<T>(
    event: string,
    data: unknown,
    options: RequestOptions,
    settled: Settled = {},
  ): Promise<T> {
    return new Promise<T>((resolveCall, rejectCall) => {
      const reject = (err: Error) => {
        settled.error?.(err);
        rejectCall(err);
      };
      if (this.terminal) {
        reject(this.terminal);
        return;
      }
      const id = this.requests.nextId();
      const resolve = (reply: unknown) => {
        settled.reply?.(reply, id);
        resolveCall(reply as T);
      };
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
        resolve,
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
  send<K extends keyof M['requests'] & string>(
    event: K,
    ...args: SendArgs<M, K>
  ): void;
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
    return this.call<BroadcastReceipt>('broadcast', data, options ?? {});
  }

  /**
   * Joins a room: its `message` pushes reach this client, after reconnections too, each once and
   * in offset order in a room with history. The reply has the room's position (`offset`, `epoch`)
   * when it has history. Joining a room already joined re-synchronizes it from its position.
   * With `presence: true` the reply's `presence` is the room's members (or `{error}`: the room is
   * joined all the same), and the client keeps them up to date: `members(room)`, the `presence`
   * event.
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinReply> {
    const { presence, ...request } = options;
    const since = this.positions.beginSync(room);
    if (presence) this.roomMembers.beginSync(room);
    const data: { room: string; since?: StreamPosition; presence?: true } =
      since ? { room, since } : { room };
    if (presence) data.presence = true;
    return this.call<JoinReply>('join', data, request, {
      reply: (reply) => {
        this.joined.add(room);
        // Joined again by the app itself: no longer pending (`roomResumed` is the retry's word).
        this.pending.delete(room);
        this.apply(this.positions.synced(room, reply as JoinReply));
        if (presence) {
          this.applyMembers(
            this.roomMembers.synced(
              room,
              (reply as JoinReply | null)?.presence,
              'join',
            ),
          );
        }
      },
      error: (err) => {
        if (presence) this.applyMembers(this.roomMembers.syncFailed(room));
        if (!this.joined.has(room)) this.positions.forget(room);
        // A drop voids the sync; the reconnection's resume does it again.
        else if (!(err instanceof ConnectionClosedError)) {
          this.apply(this.positions.syncFailed(room));
        }
      },
    });
  }

  /**
   * Leaves a room. A room pending a resume is not resumed again from this call on (unless the
   * `leave` fails while connected: then it is resumed again, being still joined).
   */
  leave(room: string, options: RequestOptions = {}): Promise<{ room: string }> {
    // At once: a retry sent before the reply would join the room after the server left it.
    const left = this.leaving.get(room) ?? { count: 0 };
    left.count++;
    left.pending ??= this.pending.get(room);
    this.leaving.set(room, left);
    if (this.pending.delete(room) && this.pending.size === 0) {
      this.stopPendingRetry();
      if (!this.resumingPending) this.pendingAttempts = 0;
    }
    const settled = () => {
      if (--left.count === 0 && this.leaving.get(room) === left) {
        this.leaving.delete(room);
      }
    };
    return this.call<{ room: string }>('leave', { room }, options, {
      reply: () => {
        settled();
        this.joined.delete(room);
        this.pending.delete(room);
        this.positions.forget(room);
        this.roomMembers.forget(room);
      },
      error: (err) => {
        settled();
        // Refused or unanswered while connected, the room still joined: pending again. (After a
        // drop the reconnection resumes every room still joined, this one included.)
        if (
          left.pending &&
          this.joined.has(room) &&
          !this.leaving.has(room) &&
          !this.userClosed &&
          !(err instanceof ConnectionClosedError)
        ) {
          this.pending.set(room, left.pending);
          // Else the retry under way schedules the next one, this room included.
          if (this.pendingTimer === undefined && !this.resumingPending) {
            this.schedulePendingRetry();
          }
        }
      },
    });
  }

  /** Every member of the room but this client, on every instance, gets a `message` push. */
  publish(
    room: string,
    data: unknown,
    options: RequestOptions = {},
  ): Promise<PublishReceipt> {
    // The sender never gets its own message back: its offset, if the reply says it, is skipped.
    const published = this.positions.publishing(room);
    return this.call<PublishReceipt>('publish', { room, data }, options, {
      reply: (reply) => this.apply(published(reply as object)),
      error: () => this.apply(published()),
    });
  }

  /**
   * The room's kept messages, oldest first: those after `since` when its epoch is current, else
   * the newest; at most `limit`. Does not join. A first offset above `since.offset + 1`, or
   * another epoch, means messages were lost; a last offset below the reply's `offset` means
   * there are more (ask again from the last one).
   */
  history<T = unknown>(
    room: string,
    options: HistoryOptions = {},
  ): Promise<HistoryReply<T>> {
    const { since, limit, ...request } = options;
    return this.call<HistoryReply<T>>(
      'history',
      { room, since, limit },
      request,
    );
  }

  /**
   * Who is in a room, over every instance: `{ room, members, count }`, or `{ room, count }` with
   * `countOnly` or past the server's listing limit. Does not join, and leaves the list that
   * `members(room)` returns as it is. By default the server answers only a member of the room
   * (else `FORBIDDEN`), and `UNAVAILABLE` while its presence store is away.
   */
  presence(
    room: string,
    options: PresenceOptions = {},
  ): Promise<PresenceReply> {
    const { countOnly, ...request } = options;
    return this.call<PresenceReply>('presence', { room, countOnly }, request);
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
  on<K extends KnownPush<M>>(
    event: K,
    handler: PushHandler<PushData<M, K>>,
  ): () => void;
  /**
   * @deprecated Use `onPush`: here a push named like a lifecycle event never arrives.
   */
  on(event: UntypedName<PushName<M>>, handler: PushHandler): () => void;
  on(event: string, handler: Handler): () => void {
    return this.listen(event, handler);
  }

  /** What `on` does, for any name. */
  private listen(event: string, handler: Handler): () => void {
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
  once(event: UntypedName<PushName<M>>, handler: PushHandler): () => void;
  /**
   * @deprecated Use `onPush` and call the function it returns.
   */
  once<K extends TypedName<PushName<M>>>(
    event: K,
    handler: PushHandler<PushData<M, K>>,
  ): () => void;
  once(event: string, handler: Handler): () => void {
    const off = this.listen(event, (...args: unknown[]) => {
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
   * With a typed map: one of the map's pushes (or `error`), its `data` of the map's type. With
   * an untyped one (the default): the protocol's pushes typed, any other's `data` is `T`.
   */
  onPush<
    T extends ExplicitPush<M> = ExplicitPush<M>,
    // Written out, not as `PushName<M>`: an error then lists the map's pushes.
    K extends (keyof M['pushes'] & string) | 'error' =
      (keyof M['pushes'] & string) | 'error',
  >(event: K, handler: PushHandler<PushArg<M, K, T>>): () => void;
  onPush(event: string, handler: PushHandler): () => void {
    this.events.onPush(event, handler);
    return () => this.offPush(event, handler);
  }

  /** Removes a handler given to `onPush`. */
  offPush(event: PushName<M>, handler: PushHandler<any>): void {
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
    let failedRooms: FailedRoom[] = [];
    let pendingRooms: string[] = [];
    if (reconnected && this.joined.size > 0) {
      // Every room, those pending a retry included: this resume is their retry.
      const outcome = await this.resume(socket, [...this.joined]);
      // Dropped again while joining: that close has been handled (a retry is scheduled).
      if (this.socket !== socket || this.userClosed) return;
      failedRooms = outcome.failed;
      pendingRooms = this.resumeSettled(outcome);
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
        pendingRooms,
      });
    }
  }

  /**
   * Joins the rooms again in one `resume`, each from its position: the replayed messages reach
   * the handlers, then a `recovery` per room with history. An older gateway without `resume`
   * (`UNKNOWN_EVENT`) gets one `join` per room. Resolves with what became of each room: a room
   * refused for good is lost; one answered `UNAVAILABLE`, or all of them when the whole `resume`
   * is answered so or not in time, is pending: still joined, its sync undone, its position kept.
   */
  private async resume(
    socket: WebSocketLike,
    rooms: string[],
  ): Promise<ResumeOutcome> {
    const outcome: ResumeOutcome = {
      resumed: [],
      failed: [],
      pending: [],
      failedPending: new Set(),
    };
    const lose = (room: string, error: GatewayClientError) => {
      this.joined.delete(room);
      if (this.pending.delete(room)) outcome.failedPending.add(room);
      this.positions.forget(room);
      this.roomMembers.forget(room);
      outcome.failed.push({ room, error });
    };
    const postpone = (room: string, error: GatewayClientError) => {
      // As before the resume was sent: pushes flow, the position stays for the next `since`.
      this.apply(this.positions.syncPostponed(room));
      if (withPresence.has(room)) {
        this.applyMembers(this.roomMembers.syncFailed(room));
      }
      outcome.pending.push({ room, error });
    };
    // Rooms joined with presence ask for it again: the diffs of the drop were missed.
    const withPresence = new Set(
      rooms.filter((room) => this.roomMembers.wants(room)),
    );
    const asked = rooms.map((room) => {
      const since = this.positions.beginSync(room);
      const entry: { room: string; since?: StreamPosition; presence?: true } =
        since ? { room, since } : { room };
      if (withPresence.has(room)) {
        this.roomMembers.beginSync(room);
        entry.presence = true;
      }
      return entry;
    });
    try {
      await this.requestNow(
        socket,
        'resume',
        { rooms: asked },
        {
          reply: (reply, id) => {
            for (const result of matchResume(rooms, reply)) {
              const { room } = result;
              if ('joined' in result) {
                const synced = this.positions.synced(room, result.joined, {
                  resume: true,
                });
                this.apply(synced);
                if (withPresence.has(room)) {
                  this.applyMembers(
                    this.roomMembers.synced(
                      room,
                      result.joined.presence,
                      'resume',
                    ),
                  );
                }
                outcome.resumed.push(room);
              } else if ('error' in result) {
                const error = new RequestError(result.error, 'resume', id);
                if (retriesResume(error)) postpone(room, error);
                else lose(room, error);
              } else {
                lose(
                  room,
                  new GatewayClientError(
                    `resume: no result for room "${room}"`,
                  ),
                );
              }
            }
          },
        },
      );
      return outcome;
    } catch (err) {
      // Dropped again while resuming: that close has been handled (a retry is scheduled).
      if (this.socket !== socket || this.userClosed) return outcome;
      if (retriesResume(err)) {
        // The store is away for a moment, or no reply came: every room waits for the next one.
        for (const room of rooms) postpone(room, err);
        return outcome;
      }
      if (!(err instanceof RequestError) || err.code !== 'UNKNOWN_EVENT') {
        // Refused whole: every room is lost, as when each join fails.
        for (const room of rooms) lose(room, err as GatewayClientError);
        return outcome;
      }
    }
    // An older gateway: one `join` per room, as before `resume` existed (`since` it would refuse).
    const results = await Promise.allSettled(
      rooms.map((room) =>
        this.requestNow(
          socket,
          'join',
          { room },
          {
            reply: (reply) => {
              this.apply(
                this.positions.synced(room, reply as JoinReply, {
                  resume: true,
                }),
              );
              if (withPresence.has(room)) {
                this.applyMembers(
                  this.roomMembers.synced(
                    room,
                    { error: NO_RESUME_PRESENCE },
                    'resume',
                  ),
                );
              }
            },
          },
        ),
      ),
    );
    if (this.socket !== socket || this.userClosed) return outcome;
    results.forEach((result, i) => {
      // Refused (FORBIDDEN, BAD_REQUEST) or unanswered: the room is lost, and the app told.
      if (result.status === 'rejected') {
        lose(rooms[i], result.reason as GatewayClientError);
      } else outcome.resumed.push(rooms[i]);
    });
    return outcome;
  }

  /**
   * Takes in what a `resume` made of its rooms: the pending ones resumed or lost are told
   * (`roomResumed`, `roomFailed`), those pending now are kept and retried after a backoff
   * (`roomPending`). Returns the rooms pending now.
   */
  private resumeSettled(outcome: ResumeOutcome): string[] {
    for (const room of outcome.resumed) {
      if (this.pending.delete(room)) this.emit('roomResumed', { room });
    }
    for (const { room, error } of outcome.failed) {
      if (outcome.failedPending.has(room)) {
        this.emit('roomFailed', { room, error });
      }
    }
    const waiting: FailedRoom[] = [];
    for (const entry of outcome.pending) {
      if (!this.joined.has(entry.room)) continue;
      const left = this.leaving.get(entry.room);
      // Being left: not pending, unless the `leave` fails.
      if (left) left.pending = entry.error;
      else {
        this.pending.set(entry.room, entry.error);
        waiting.push(entry);
      }
    }
    if (this.pending.size === 0) {
      this.pendingAttempts = 0;
      return [];
    }
    const next = this.schedulePendingRetry();
    for (const { room, error } of waiting) {
      this.emit('roomPending', { room, error, ...next });
    }
    return waiting.map(({ room }) => room);
  }

  /** Arms the next `resume` of the pending rooms, after the backoff's next delay. */
  private schedulePendingRetry(): { attempt: number; delayMs: number } {
    this.clock.clearTimeout(this.pendingTimer);
    const attempt = ++this.pendingAttempts;
    const delayMs = timerDelay(
      backoffDelay(attempt, this.resumeRetry, this.random),
    );
    this.pendingTimer = this.clock.setTimeout(() => {
      this.pendingTimer = undefined;
      void this.resumePending();
    }, delayMs);
    return { attempt, delayMs };
  }

  /**
   * One `resume` of the pending rooms, on the open connection. While disconnected it does nothing:
   * the reconnection resumes every room.
   */
  private async resumePending(): Promise<void> {
    const socket = this.socket;
    if (!socket || this.userClosed || this.connection.state !== 'open') return;
    const rooms = [...this.pending.keys()].filter(
      (room) => this.joined.has(room) && !this.leaving.has(room),
    );
    if (rooms.length === 0) {
      this.pending.clear();
      this.pendingAttempts = 0;
      return;
    }
    this.resumingPending = true;
    let outcome: ResumeOutcome;
    try {
      outcome = await this.resume(socket, rooms);
    } finally {
      this.resumingPending = false;
    }
    // Dropped meanwhile: the reconnection resumes the rooms still pending with the others.
    if (this.socket !== socket || this.userClosed) return;
    this.resumeSettled(outcome);
  }

  /** Stops the retries of the pending rooms (the rooms stay pending). */
  private stopPendingRetry(): void {
    this.clock.clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
  }

  /** A request sent on a given socket at once, bypassing the queue (the rejoin, a re-sync). */
  private requestNow(
    socket: WebSocketLike,
    event: string,
    data: unknown,
    settled: Settled = {},
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.requests.nextId();
      this.requests.add({
        event,
        id,
        timeoutMs: this.requestTimeoutMs,
        resolve: (reply) => {
          settled.reply?.(reply, id);
          resolve(reply);
        },
        reject: (err) => {
          settled.error?.(err);
          reject(err);
        },
        sent: true,
      });
      socket.send(JSON.stringify({ event, data, id }));
    });
  }

  /** Carries out what the room positions decided, in order. */
  private apply(actions: PositionAction[]): void {
    for (const action of actions) {
      if (action.kind === 'deliver') this.events.push(action.frame);
      else if (action.kind === 'recovery') {
        this.emit('recovery', action.recovery);
      } else this.resync(action.room, action.since);
    }
  }

  /** Carries out what the room members decided, in order. */
  private applyMembers(actions: MembersAction[]): void {
    for (const action of actions) {
      if (action.kind === 'presence') this.emit('presence', action.event);
      else this.refreshPresence(action.room);
    }
  }

  /**
   * A diff the room's list cannot take (counted since it was joined, listed again now): the
   * room's view replaces the list, and the pushes held meanwhile follow.
   */
  private refreshPresence(room: string): void {
    const socket = this.socket;
    if (!socket) {
      this.applyMembers(this.roomMembers.syncFailed(room));
      return;
    }
    this.requestNow(
      socket,
      'presence',
      { room },
      {
        reply: (reply) =>
          this.applyMembers(this.roomMembers.synced(room, reply, 'refresh')),
        error: () => this.applyMembers(this.roomMembers.syncFailed(room)),
      },
    ).catch(() => {
      // Refused or unanswered: the room stays counted; the next diff asks again.
    });
  }

  /** A gap in a room's offsets: `join` with `since` replays what is missing. */
  private resync(room: string, since: StreamPosition): void {
    const socket = this.socket;
    // No socket: the drop has voided the sync, and the reconnection resumes the room.
    if (!socket) return;
    this.requestNow(
      socket,
      'join',
      { room, since },
      {
        reply: (reply) =>
          this.apply(this.positions.synced(room, reply as JoinReply)),
        error: (err) => {
          if (!(err instanceof ConnectionClosedError)) {
            this.apply(this.positions.syncFailed(room));
          }
        },
      },
    ).catch(() => {
      // Told through `recovery` (recovered: false), or voided by a drop.
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
    if (frame.event === 'message') this.apply(this.positions.push(frame));
    else if (frame.event === 'presence') {
      // The list first, so that a push handler reading `members()` sees it; then the event.
      const actions = this.roomMembers.push(frame.data);
      this.events.push(frame);
      this.applyMembers(actions);
    } else this.events.push(frame);
  }

  /** An open connection closed. */
  private closed(code: number, reason: string): void {
    const error = new ConnectionClosedError(code, reason);
    // First: the syncs in flight are void, so their rejection below is not a failed re-sync.
    this.positions.disconnected();
    this.roomMembers.disconnected();
    // The reconnection's resume will ask for the pending rooms, with every other.
    this.stopPendingRetry();
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
    this.stopPendingRetry();
    this.setState('closed');
    this.requests.rejectAll(error);
    this.queue.drain();
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
  }
}
