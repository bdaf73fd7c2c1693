import type {
  Frame,
  JoinReply,
  RoomMessagePush,
  StreamPosition,
} from '../protocol/index.js';

/** A room re-synchronized (after a reconnection, or a gap in the offsets): the `recovery` event. */
export interface RoomRecovery {
  room: string;
  /**
   * Whether the app has had every message of the room up to `position`: the server replayed what
   * was missed, or nothing was. `false`: messages were lost; reload the room (`history`, or the
   * app's own API) if they matter.
   */
  recovered: boolean;
  /** Where the room now stands; the `message` pushes go on from there. */
  position: StreamPosition;
  /** How many messages were lost, when known (the same epoch); absent when the epoch changed. */
  missed?: number;
}

/** What the client does next, in order: hand a push to the app, emit `recovery`, send `join`. */
export type PositionAction =
  | { kind: 'deliver'; frame: Frame }
  | { kind: 'recovery'; recovery: RoomRecovery }
  | { kind: 'resync'; room: string; since: StreamPosition };

/** One joined room's stream, as this client has delivered it. */
interface RoomStream {
  /** The last offset delivered (or skipped, the app's own), and its epoch; none yet, or no history. */
  position?: StreamPosition;
  /** `join`/`resume` replies awaited; meanwhile every push with an offset is held. */
  syncs: number;
  /** Pushes not deliverable yet, by offset: after a gap, or before the reply of a sync. */
  held: Map<number, Frame>;
  /** Whether the held buffer was full and a push was let go: a later sync must fetch it. */
  overflowed: boolean;
  /** Offsets of this client's own publishes: the server never pushes them back, so skip them. */
  own: Set<number>;
  /** This client's publishes to the room awaiting their reply: a gap may be one of them. */
  ownInFlight: number;
}

/** What a `publish` reply may say of the message's place in the stream. */
interface PublishedAt {
  offset?: unknown;
  epoch?: unknown;
}

const isOffset = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Whether a `join` reply (or a `resume` result) carries a position: the room has history. */
function positionOf(reply: JoinReply): StreamPosition | undefined {
  return isOffset(reply.offset) && typeof reply.epoch === 'string'
    ? { offset: reply.offset, epoch: reply.epoch }
    : undefined;
}

const samePosition = (a?: StreamPosition, b?: StreamPosition): boolean =>
  a?.offset === b?.offset && a?.epoch === b?.epoch;

/**
 * Per-room positions, so that the app's `message` handlers see each room message once, in offset
 * order. It does no I/O: each call returns the actions to carry out (deliver, emit, re-sync).
 *
 * A push at or below the position is a duplicate and dropped; the next one is delivered; one
 * beyond it opens a gap: it is held and a `join` with `since` re-synchronizes the room. While a
 * room waits for a `join`/`resume` reply every push with an offset is held, and the reply decides:
 * the replayed ones and what follows are delivered in order, or, not recovered, the position jumps
 * to the reply's and delivery goes on from there.
 *
 * The limit: a push carries no epoch, so after the stream's epoch changed under a connection, a
 * push below the old position is taken for a duplicate. The next gap, reconnection or the app's
 * `history` call sets it right.
 */
export class RoomPositions {
  private readonly rooms = new Map<string, RoomStream>();

  /** @param maxHeld pushes held per room; past it the newest are let go and fetched again later. */
  constructor(private readonly maxHeld: number) {}

  /** The room's position: the last offset delivered and its epoch; undefined when not known. */
  position(room: string): StreamPosition | undefined {
    const position = this.rooms.get(room)?.position;
    return position && { ...position };
  }

  /**
   * A `join` or `resume` of the room is being sent: pushes are held until its reply. Returns the
   * position to send as `since`, if one is known.
   */
  beginSync(room: string): StreamPosition | undefined {
    const stream = this.stream(room);
    stream.syncs++;
    return stream.position && { ...stream.position };
  }

  /** A `message` push: delivered, dropped or held; a gap asks for a re-sync. */
  push(frame: Frame): PositionAction[] {
    const data = frame.data as Partial<RoomMessagePush> & { offset?: unknown };
    const stream =
      data !== null && typeof data === 'object' && typeof data.room === 'string'
        ? this.rooms.get(data.room)
        : undefined;
    const offset = data?.offset;
    // A room this client did not join through `join()`, or a push without offset: as it is.
    if (!stream || !isOffset(offset)) return [{ kind: 'deliver', frame }];
    if (stream.syncs > 0) {
      this.hold(stream, offset, frame);
      return [];
    }
    if (!stream.position) return [{ kind: 'deliver', frame }];
    if (offset <= stream.position.offset) return [];
    this.hold(stream, offset, frame);
    const actions: PositionAction[] = [];
    this.flush(stream, actions);
    this.checkGap(data.room!, stream, actions);
    return actions;
  }

  /**
   * The reply to a `join` (with or without `since`) or one room's `resume` result. `resume`: a
   * `recovery` is emitted even without a previous position (a reconnection always tells).
   */
  synced(
    room: string,
    reply: JoinReply,
    options: { resume?: boolean } = {},
  ): PositionAction[] {
    const stream = this.rooms.get(room);
    if (!stream) return [];
    stream.syncs = Math.max(0, stream.syncs - 1);
    const actions: PositionAction[] = [];
    const previous = stream.position && { ...stream.position };
    const top = positionOf(reply);
    if (!top) {
      // A room without history (now): nothing to order by any more.
      stream.position = undefined;
      this.release(stream, actions);
      return actions;
    }
    let recovered = false;
    let missed: number | undefined;
    if (previous && previous.epoch === top.epoch) {
      // The replayed messages were held as they came: deliver them, and what follows in order.
      if (reply.recovered === true) {
        this.flush(stream, actions, top.offset);
        const at = stream.position!.offset;
        if (at < top.offset && stream.overflowed && at > previous.offset) {
          // The server sent them all, but the held buffer let some go: ask again from here.
          this.checkGap(room, stream, actions);
          return actions;
        }
      }
      const at = stream.position!.offset;
      if (at >= top.offset) {
        recovered = true;
      } else {
        missed = top.offset - at;
        stream.position = top;
      }
    } else {
      if (previous) stream.own.clear();
      stream.position = top;
    }
    this.dropThrough(stream);
    if (options.resume || previous) {
      actions.push({
        kind: 'recovery',
        recovery: {
          room,
          recovered,
          position: { ...stream.position! },
          ...(missed === undefined ? {} : { missed }),
        },
      });
    }
    this.flush(stream, actions);
    if (stream.held.size > 0 || stream.overflowed) {
      if (!samePosition(previous, stream.position)) {
        this.checkGap(room, stream, actions);
      } else if (stream.syncs === 0 && stream.ownInFlight === 0) {
        // The sync moved nothing: what is held cannot follow on (another epoch's pushes, or a
        // server that skips). Let it go rather than ask again forever; the next push tells.
        stream.held.clear();
        stream.overflowed = false;
      }
    }
    return actions;
  }

  /**
   * A re-sync failed while connected (`UNAVAILABLE`, a timeout): the held pushes are delivered in
   * order, gaps and all, and a `recovery` says how many were lost.
   */
  syncFailed(room: string): PositionAction[] {
    const stream = this.rooms.get(room);
    if (!stream) return [];
    stream.syncs = Math.max(0, stream.syncs - 1);
    if (stream.syncs > 0) return [];
    const actions: PositionAction[] = [];
    const position = stream.position;
    if (!position) {
      this.release(stream, actions);
      return actions;
    }
    const from = position.offset;
    let delivered = 0;
    for (const offset of [...stream.held.keys()].sort((a, b) => a - b)) {
      if (offset <= position.offset) continue;
      actions.push({ kind: 'deliver', frame: stream.held.get(offset)! });
      position.offset = offset;
      delivered++;
    }
    let skipped = 0;
    for (const offset of stream.own) if (offset <= position.offset) skipped++;
    stream.held.clear();
    stream.overflowed = false;
    this.dropThrough(stream);
    const missed = position.offset - from - delivered - skipped;
    if (missed > 0) {
      actions.push({
        kind: 'recovery',
        recovery: { room, recovered: false, position: { ...position }, missed },
      });
    }
    return actions;
  }

  /**
   * A `resume` of the room could not be carried out for now (`UNAVAILABLE`, no reply) and will be
   * asked again from the same position: the sync is undone, nothing is claimed lost. The held
   * pushes that follow on from the position are delivered; the others are let go, since the
   * next `resume` asks from the position and so has them replayed.
   */
  syncPostponed(room: string): PositionAction[] {
    const stream = this.rooms.get(room);
    if (!stream) return [];
    stream.syncs = Math.max(0, stream.syncs - 1);
    if (stream.syncs > 0) return [];
    const actions: PositionAction[] = [];
    if (!stream.position) {
      this.release(stream, actions);
      return actions;
    }
    this.flush(stream, actions);
    stream.held.clear();
    stream.overflowed = false;
    this.dropThrough(stream);
    return actions;
  }

  /**
   * A `publish` to the room is being sent. Returns what to call with its reply (undefined when it
   * failed): a reply with the message's `offset` lets this client skip it, since it is never
   * pushed back to its sender.
   */
  publishing(room: string): (reply?: PublishedAt) => PositionAction[] {
    const stream = this.rooms.get(room);
    if (!stream) return () => [];
    stream.ownInFlight++;
    let settled = false;
    return (reply) => {
      if (settled) return [];
      settled = true;
      stream.ownInFlight--;
      const position = stream.position;
      if (
        reply &&
        isOffset(reply.offset) &&
        position &&
        (reply.epoch === undefined || reply.epoch === position.epoch) &&
        reply.offset > position.offset &&
        stream.own.size < this.maxHeld
      ) {
        stream.own.add(reply.offset);
      }
      if (this.rooms.get(room) !== stream || stream.syncs > 0) return [];
      const actions: PositionAction[] = [];
      this.flush(stream, actions);
      this.checkGap(room, stream, actions);
      return actions;
    };
  }

  /** The connection dropped: syncs in flight are void and held pushes will come again. */
  disconnected(): void {
    for (const stream of this.rooms.values()) {
      stream.syncs = 0;
      stream.held.clear();
      stream.overflowed = false;
    }
  }

  /** The room was left, or lost: its pushes are no longer ordered. */
  forget(room: string): void {
    this.rooms.delete(room);
  }

  /** The client closed: every room forgotten. */
  clear(): void {
    this.rooms.clear();
  }

  private stream(room: string): RoomStream {
    let stream = this.rooms.get(room);
    if (!stream) {
      stream = {
        syncs: 0,
        held: new Map(),
        overflowed: false,
        own: new Set(),
        ownInFlight: 0,
      };
      this.rooms.set(room, stream);
    }
    return stream;
  }

  /** Holds a push; a full buffer lets the highest offset go (the lowest are needed first). */
  private hold(stream: RoomStream, offset: number, frame: Frame): void {
    const { held } = stream;
    if (held.has(offset)) return;
    if (held.size >= this.maxHeld) {
      stream.overflowed = true;
      let highest = offset;
      for (const key of held.keys()) if (key > highest) highest = key;
      if (highest === offset) return;
      held.delete(highest);
    }
    held.set(offset, frame);
  }

  /** Delivers the held pushes that follow on from the position, skipping this client's own. */
  private flush(
    stream: RoomStream,
    actions: PositionAction[],
    upTo = Infinity,
  ): void {
    const position = stream.position;
    if (!position) return;
    for (;;) {
      const next = position.offset + 1;
      if (next > upTo) break;
      if (stream.own.delete(next)) {
        stream.held.delete(next);
      } else {
        const frame = stream.held.get(next);
        if (!frame) break;
        stream.held.delete(next);
        actions.push({ kind: 'deliver', frame });
      }
      position.offset = next;
    }
  }

  /** Forgets the held pushes and own offsets at or below the position. */
  private dropThrough(stream: RoomStream): void {
    const at = stream.position!.offset;
    for (const offset of stream.held.keys()) {
      if (offset <= at) stream.held.delete(offset);
    }
    for (const offset of stream.own)
      if (offset <= at) stream.own.delete(offset);
  }

  /** Pushes held that cannot be ordered any more: delivered in offset order, then forgotten. */
  private release(stream: RoomStream, actions: PositionAction[]): void {
    for (const offset of [...stream.held.keys()].sort((a, b) => a - b)) {
      actions.push({ kind: 'deliver', frame: stream.held.get(offset)! });
    }
    stream.held.clear();
    stream.own.clear();
    stream.overflowed = false;
  }

  /** A gap after the position (or pushes let go): re-sync, unless one is under way or may close it. */
  private checkGap(
    room: string,
    stream: RoomStream,
    actions: PositionAction[],
  ): void {
    if (!stream.position || stream.syncs > 0 || stream.ownInFlight > 0) return;
    if (stream.held.size === 0 && !stream.overflowed) return;
    stream.syncs++;
    stream.overflowed = false;
    actions.push({
      kind: 'resync',
      room,
      since: { ...stream.position },
    });
  }
}
