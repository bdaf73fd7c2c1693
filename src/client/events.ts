import type { ClientState } from './connection-state.js';
import type { GatewayClientError } from './errors.js';
import type { PresenceEvent } from './room-members.js';
import type { RoomRecovery } from './room-positions.js';
import type {
  BroadcastPush,
  ErrorPayload,
  Frame,
  PresencePush,
  RoomMessagePush,
} from '../protocol/index.js';

/** A connection that closed. */
export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the client will try again on its own. */
  willReconnect: boolean;
}

/** The `roomPending` event: a room whose resume is retried, why, and when. */
export interface RoomPending {
  room: string;
  /** `RequestError` with code `UNAVAILABLE`, or `RequestTimeoutError`. */
  error: GatewayClientError;
  /** Resumes that left the room pending in a row (1 for the first); the backoff's attempt. */
  attempt: number;
  /** When the next `resume` goes, in ms (unless a reconnection comes first). */
  delayMs: number;
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
   * Connected again after a drop, rooms joined again. `rooms`: the rooms the client is in, those
   * in `pendingRooms` included; `failedRooms`: those refused for good, now left; `pendingRooms`:
   * those the server could not join for now (`UNAVAILABLE`, no reply), still joined, kept at
   * their position and resumed again shortly (a `roomPending` event each).
   * `attempts`: which attempt succeeded (1 the first; 0 when the app called `connect()`).
   */
  reconnected: {
    attempts: number;
    rooms: string[];
    failedRooms: Array<{ room: string; error: GatewayClientError }>;
    pendingRooms: string[];
  };
  /**
   * A room could not be joined again for now: its `resume` entry, or the whole `resume`, was
   * answered `UNAVAILABLE` (the server's history or presence store is away) or not in time. The
   * room stays joined and keeps its position; one `resume` of every such room follows in
   * `delayMs` (`attempt`: the how-many-th in a row, the backoff's), or with the next reconnection.
   * Then `roomResumed` (after its `recovery`), `roomFailed`, or `roomPending` again.
   */
  roomPending: RoomPending;
  /** A room that was pending is joined again; its `recovery` and `presence` came just before. */
  roomResumed: { room: string };
  /**
   * A room that was pending was refused for good (`FORBIDDEN`, `BAD_REQUEST`, ...): it is left,
   * its position forgotten (after a reconnection it is in `failedRooms` too).
   */
  roomFailed: { room: string; error: GatewayClientError };
  /** `maxRetries` attempts failed: the client is `closed`. */
  reconnectFailed: { attempts: number; error: GatewayClientError };
  /** Closed with 4401: call `connect({ token })` with a fresh token; rooms are joined again. */
  tokenExpired: { code: number; reason: string };
  /**
   * A room was re-synchronized: after a reconnection (one per room with history), or after a gap
   * in its offsets. `recovered: false`: messages up to `position` were lost; reload them with
   * `history()` (or the app's own API) if they matter.
   */
  recovery: RoomRecovery;
  /**
   * The members of a room joined with `join(room, { presence: true })` changed: after the join's
   * reply, each `presence` push, and each reconnection (the whole list again, since the changes of
   * the drop were missed). `members` and `count` are what `members(room)` returns now; `joined`
   * and `left`, how the list changed; `error`: the server could not give the room's presence (the
   * room stays joined; the next reconnection asks again).
   */
  presence: PresenceEvent;
  state: { state: ClientState; previous: ClientState };
  /** Every frame received, as its raw text (duplicates that `message` handlers never see too). */
  frame: string;
  /** A plain-text frame (`server received: ...`). */
  text: string;
}

/** The pushes of protocol v1 and their data, for `onPush`; a host's own events are `unknown`. */
export interface PushEvents {
  broadcast: BroadcastPush;
  /**
   * A room message; `offset` in a room with history. Each reaches the handlers once, in offset
   * order, when the room was joined with `join()`.
   */
  message: RoomMessagePush & { offset?: number };
  /** An error frame without an id (a request sent with `send`, which has none). */
  error: ErrorPayload;
  /**
   * A room's presence changed (members that joined and left, or, for a room too large to list,
   * its count), as the server sent it. The `presence` lifecycle event gives the list it makes.
   */
  presence: PresencePush;
}

/** A handler of a push: its `data`, and the whole frame. */
export type PushHandler<T = any> = (data: T, frame: Frame) => void;

/** Any handler, lifecycle or push. */
export type Handler = (...args: any[]) => void;

/** Which names `on` keeps for the connection; any other goes to the pushes (the old form). */
const LIFECYCLE: ReadonlySet<string> = new Set<keyof LifecycleEvents>([
  'open',
  'close',
  'connectError',
  'reconnecting',
  'reconnected',
  'reconnectFailed',
  'roomPending',
  'roomResumed',
  'roomFailed',
  'tokenExpired',
  'recovery',
  'presence',
  'state',
  'frame',
  'text',
]);

/** Whether `on(event)` means a lifecycle event rather than a push. */
export function isLifecycleEvent(event: string): boolean {
  return LIFECYCLE.has(event);
}

/** Handlers by event name. */
class HandlerMap {
  private readonly handlers = new Map<string, Set<Handler>>();

  add(event: string, handler: Handler): void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
  }

  remove(event: string, handler: Handler): void {
    this.handlers.get(event)?.delete(handler);
  }

  emit(event: string, args: unknown[]): void {
    const set = this.handlers.get(event);
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
}

/**
 * The client's handlers in two namespaces, lifecycle events and pushes, since a server may push
 * any event name, `state` or `close` included. A handler that throws does not stop the others;
 * its error is rethrown in a microtask.
 */
export class ClientEvents {
  private readonly lifecycle = new HandlerMap();
  private readonly pushes = new HandlerMap();

  /** A lifecycle handler for a lifecycle name; a push handler for any other (the old `on`). */
  on(event: string, handler: Handler): void {
    if (isLifecycleEvent(event)) this.lifecycle.add(event, handler);
    else this.pushes.add(event, handler);
  }

  /** Removes what {@link ClientEvents.on} added. */
  off(event: string, handler: Handler): void {
    if (isLifecycleEvent(event)) this.lifecycle.remove(event, handler);
    else this.pushes.remove(event, handler);
  }

  /** A push handler, whatever the name. */
  onPush(event: string, handler: Handler): void {
    this.pushes.add(event, handler);
  }

  /** Removes what {@link ClientEvents.onPush} added. */
  offPush(event: string, handler: Handler): void {
    this.pushes.remove(event, handler);
  }

  /** Calls the handlers of a lifecycle event. */
  emit<K extends keyof LifecycleEvents>(
    event: K,
    info: LifecycleEvents[K],
  ): void {
    this.lifecycle.emit(event, [info]);
  }

  /** Calls the handlers of a push frame with its data and the frame. */
  push(frame: Frame): void {
    this.pushes.emit(frame.event, [frame.data, frame]);
  }
}
