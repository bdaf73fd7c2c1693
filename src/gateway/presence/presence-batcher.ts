import type {
  PresenceChange,
  PresenceMember,
  PresenceSnapshot,
} from './presence-store.js';

/** A listed room's members that joined and left during one tick, as subscribers receive it. */
export interface PresenceDiff {
  room: string;
  joined: Omit<PresenceMember, 'connections'>[];
  left: Omit<PresenceMember, 'connections'>[];
}

/** A counted room's member count, sent instead of diffs (see {@link PresenceBatcherOptions}). */
export interface PresenceCount {
  room: string;
  count: number;
}

/** Options of {@link PresenceBatcher}. */
export interface PresenceBatcherOptions {
  /** How long changes are gathered before a room's subscribers are sent their net effect. */
  tickMs: number;
  /** Rooms with more members than this are counted, not listed. */
  maxMembers: number;
  /**
   * Hands one room's batch to its subscribers; called at most once per room per tick. It should
   * not throw: if it does, the tick's other rooms are still sent, and the first error is thrown
   * from the timer afterwards.
   */
  send: (room: string, payload: PresenceDiff | PresenceCount) => void;
}

/** What {@link PresenceBatcher.stats} reports. */
export interface PresenceBatcherStats {
  /** Rooms tracked (started and not stopped). */
  rooms: number;
  /** Member versions held over all tracked rooms, departed members' included. */
  versions: number;
  /** Rooms with changes waiting for the tick's end. */
  pendingRooms: number;
}

/**
 * How many departed members a room remembers beyond one per member it holds. A departed member's
 * version is kept so that a join of it that arrives after its leave (changes reach an instance by
 * two ways, the store's reply and the bus, which can overtake each other) is known to be older.
 * Forgetting the oldest departures raises the room's floor to their version: from then on, a
 * change of a member the room does not know is taken only if it is newer than that. So a change
 * is lost only if it arrives after this many later departures, far beyond any reordering between
 * the two ways, while a room with heavy churn holds O(members) versions, not one per visitor.
 */
const KEPT_DEPARTURES = 256;

/** What a room knows of one member it holds: present now, or still shown as present. */
interface MemberState {
  /** The version of the member's latest change taken (the snapshot's for a seeded member). */
  version: number;
  present: boolean;
  /** Whether subscribers were last told the member is present. */
  shown: boolean;
  /** The member as its latest change gave it (`info` as it joined, or as it was on leaving). */
  member: Omit<PresenceMember, 'connections'>;
}

/** One tracked room. */
class Room {
  /** Members present, or gone but still shown as present (their leave is not sent yet). */
  readonly members = new Map<string, MemberState>();
  /**
   * Members neither present nor shown, with the version of their leave, oldest first: what
   * protects against an old join arriving late. At most `members.size + KEPT_DEPARTURES`.
   */
  readonly departed = new Map<string, number>();
  /** Members whose state changed since the last tick's end, while the room is listed. */
  readonly dirty = new Set<string>();
  /** Subscribers receive counts, not diffs (see {@link PresenceBatcher.flushRoom}). */
  counted: boolean;

  constructor(
    /** Changes of members the room does not know are taken only with a version above this. */
    public floor: number,
    /** Members in the room, by the snapshot and setCount, then the joins and leaves taken. */
    public count: number,
    /** The count subscribers were last given (by the join reply, a count, or a diff). */
    public sentCount: number,
    /** Whether every present member is known: the snapshot listed them all. */
    readonly complete: boolean,
  ) {
    this.counted = !complete;
  }
}

/**
 * Batches presence changes per room and tick for subscribers, so that a mass reconnect sends
 * each room's subscribers a diff per tick rather than a message per member, and a member that
 * leaves and comes back within a tick (or comes and goes) is in neither list. Pure: it knows
 * nothing of sockets or the store; the gateway feeds it changes (from the store's replies and
 * the bus) and sends what it hands to `send`.
 *
 * A room is tracked only between {@link start}, which seeds it from the store's snapshot, and
 * {@link stop}: changes of other rooms are ignored. Changes may arrive twice or out of order:
 * one whose version is not above the last taken of its member (or, for a member the room does
 * not know, above the snapshot's version) is ignored.
 *
 * A room with more than `maxMembers` members is counted: at a tick's end its subscribers get
 * `{room, count}` when the count changed, instead of a diff. A room that shrinks back to
 * `maxMembers` is listed again, with a diff against what subscribers were last listed: diffs
 * are always relative to the previous list (the join reply's, or the last diff's), which a
 * client keeps while counts come. A room that was large when its tracking started, whose
 * snapshot could not list everyone, stays counted until it is started again: the batcher does
 * not know who is in it.
 *
 * The timer runs only while some room has changes waiting, and never keeps the process alive.
 * Memory per room: a version per member it holds (present, shown, or among the last departed;
 * see {@link KEPT_DEPARTURES}), and while listed, the ids that changed in the current tick.
 */
export class PresenceBatcher {
  private readonly rooms = new Map<string, Room>();
  /** Rooms with changes since the last tick's end. */
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly tickMs: number;
  private readonly maxMembers: number;
  private readonly send: PresenceBatcherOptions['send'];

  constructor(options: PresenceBatcherOptions) {
    if (!(options.tickMs > 0) || !Number.isFinite(options.tickMs))
      throw new RangeError(
        `tickMs must be a finite number > 0, not ${options.tickMs}`,
      );
    if (!(options.maxMembers >= 0))
      throw new RangeError(
        `maxMembers must be a number >= 0, not ${options.maxMembers}`,
      );
    this.tickMs = options.tickMs;
    this.maxMembers = options.maxMembers;
    this.send = options.send;
  }

  /** Tracked rooms, versions held and rooms waiting, right now. */
  get stats(): PresenceBatcherStats {
    let versions = 0;
    for (const room of this.rooms.values())
      versions += room.members.size + room.departed.size;
    return {
      rooms: this.rooms.size,
      versions,
      pendingRooms: this.pending.size,
    };
  }

  /**
   * Starts tracking `room` from the store's `snapshot`, as its first subscriber's join reply
   * showed it: the listed members are present (and shown, when the room was not too large to be
   * listed), the count is the snapshot's, and changes up to its version are already in it. A
   * room already tracked starts again: what it had, pending changes included, is dropped.
   */
  start(room: string, snapshot: PresenceSnapshot): void {
    if (this.closed) return;
    this.drop(room);
    const listed = snapshot.count <= this.maxMembers;
    const state = new Room(
      snapshot.version,
      snapshot.count,
      snapshot.count,
      snapshot.members.length >= snapshot.count,
    );
    if (!listed) state.counted = true;
    for (const { id, info } of snapshot.members)
      state.members.set(id, {
        version: snapshot.version,
        present: true,
        shown: listed,
        member: { id, info },
      });
    this.rooms.set(room, state);
  }

  /** Stops tracking `room` (its last subscriber went): its pending changes are dropped. */
  stop(room: string): void {
    this.drop(room);
  }

  /**
   * Corrects a tracked room's count, from a snapshot of the store; the joins and leaves taken
   * after move it on. A counted room's subscribers get the new count at the tick's end.
   */
  setCount(room: string, count: number): void {
    const state = this.rooms.get(room);
    if (!state || !(count >= 0)) return;
    state.count = Math.floor(count);
    if (state.count !== state.sentCount) this.pend(room);
  }

  /**
   * Brings a tracked room in line with a fresh snapshot of the store, after changes may have been
   * missed (the store or the bus was away): a member held as present that the snapshot does not
   * list leaves, and a listed one not held as present joins, each as a change of the snapshot's
   * version, so that a change taken already that is newer than the snapshot stands. A snapshot
   * that does not list every member (a large room), or a room whose members are not all known,
   * corrects only the count. Subscribers get the difference at the tick's end.
   */
  resync(room: string, snapshot: PresenceSnapshot): void {
    const state = this.rooms.get(room);
    if (!state) return;
    if (state.complete && snapshot.members.length >= snapshot.count) {
      const listed = new Set(snapshot.members.map((m) => m.id));
      const { version } = snapshot;
      for (const [id, known] of state.members)
        if (known.present && !listed.has(id))
          this.accept({ room, member: known.member, present: false, version });
      for (const { id, info } of snapshot.members)
        if (state.members.get(id)?.present !== true)
          this.accept({ room, member: { id, info }, present: true, version });
    }
    this.setCount(room, snapshot.count);
  }

  /** Takes a change for the current tick, unless its room is not tracked or it is old. */
  accept(change: PresenceChange): void {
    const room = this.rooms.get(change.room);
    if (!room) return;
    const { id } = change.member;
    const known = room.members.get(id);
    /** Whether the member was present before the change; undefined: the room cannot tell. */
    let was: boolean | undefined;
    if (known) {
      if (change.version <= known.version) return;
      was = known.present;
    } else {
      const departed = room.departed.get(id);
      if (departed !== undefined) {
        if (change.version <= departed) return;
        was = false;
      } else {
        if (change.version <= room.floor) return;
        // A room that listed everyone knows the member was absent; a large one's snapshot may
        // have left it out, so its leave is taken as one of those.
        was = room.complete ? false : undefined;
      }
    }

    if (change.present !== was)
      room.count = change.present
        ? room.count + 1
        : Math.max(0, room.count - 1);

    if (change.present || known?.shown) {
      room.departed.delete(id);
      if (known) {
        known.version = change.version;
        known.present = change.present;
        known.member = change.member;
      } else {
        room.members.set(id, {
          version: change.version,
          present: true,
          shown: false,
          member: change.member,
        });
      }
    } else {
      // Gone, and subscribers do not have it: only its version is kept.
      room.members.delete(id);
      this.depart(room, id, change.version);
    }
    if (!room.counted) room.dirty.add(id);
    this.pend(change.room);
  }

  /** Stops the timer and forgets every room; nothing is sent after, and nothing is taken. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.rooms.clear();
    this.pending.clear();
  }

  private drop(room: string): void {
    this.rooms.delete(room);
    this.pending.delete(room);
    if (this.pending.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Remembers a departed member's version; forgets the oldest beyond the bound. */
  private depart(room: Room, id: string, version: number): void {
    room.departed.delete(id);
    room.departed.set(id, version);
    while (room.departed.size > room.members.size + KEPT_DEPARTURES) {
      const [oldest, at] = room.departed.entries().next().value as [
        string,
        number,
      ];
      room.departed.delete(oldest);
      if (at > room.floor) room.floor = at;
    }
  }

  private pend(room: string): void {
    this.pending.add(room);
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => this.tick(), this.tickMs);
    // Presence alone must not keep the process alive.
    this.timer.unref();
  }

  /** The tick's end: each pending room's batch is sent. `send` may call back in. */
  private tick(): void {
    this.timer = undefined;
    const rooms = this.pending;
    this.pending = new Set();
    let failed = false;
    let failure: unknown;
    for (const name of rooms) {
      const room = this.rooms.get(name);
      if (!room) continue;
      const payload = this.flushRoom(name, room);
      if (!payload) continue;
      try {
        this.send(name, payload);
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
    }
    if (failed) throw failure as Error;
  }

  /**
   * The room's batch for the tick that ends, if any. A room is counted while it has more than
   * `maxMembers` members, or when its members are not all known: then its new count, if it
   * changed. Otherwise the members whose presence differs from what subscribers were last
   * shown: those that changed in the tick, or every member the room holds when it was counted
   * until now (then an empty diff too, so that subscribers know the room is listed again).
   */
  private flushRoom(
    name: string,
    room: Room,
  ): PresenceDiff | PresenceCount | undefined {
    if (!room.complete || room.count > this.maxMembers) {
      room.counted = true;
      room.dirty.clear();
      if (room.count === room.sentCount) return undefined;
      room.sentCount = room.count;
      return { room: name, count: room.count };
    }
    const changed = room.counted ? room.members.keys() : room.dirty.values();
    // Listed again: subscribers, given counts until now, are told so even by an empty diff.
    const relisted = room.counted;
    room.counted = false;
    const joined: PresenceDiff['joined'] = [];
    const left: PresenceDiff['left'] = [];
    for (const id of changed) {
      const state = room.members.get(id);
      if (!state || state.present === state.shown) continue;
      state.shown = state.present;
      if (state.present) {
        joined.push(state.member);
      } else {
        left.push(state.member);
        room.members.delete(id);
        this.depart(room, id, state.version);
      }
    }
    room.dirty.clear();
    room.sentCount = room.count;
    return joined.length + left.length > 0 || relisted
      ? { room: name, joined, left }
      : undefined;
  }
}
