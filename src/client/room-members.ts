import type { ErrorPayload, PresenceMember } from '../protocol/index.js';

/**
 * A member as the client lists it: `connections` as the last view (a join, resume or `presence`
 * reply) said it; absent for a member that joined by a push since, since pushes do not count
 * connections.
 */
export type RoomMember = Omit<PresenceMember, 'connections'> & {
  connections?: number;
};

/** What the client knows of a room's members: `members(room)`. */
export interface RoomPresence {
  /** Each member once, by id; absent while the room is counted (too large to list). */
  members?: RoomMember[];
  /** How many members there are: the list's length while listed. */
  count: number;
}

/**
 * Why a `presence` event fired: the reply of `join(room, { presence: true })`, the `resume` of a
 * reconnection, a `presence` push, or the view the client asked for itself when a push could not
 * be applied (a room counted since it was joined that is listed again).
 */
export type PresenceCause = 'join' | 'resume' | 'push' | 'refresh';

/** The causes that bring a whole view. */
type ViewCause = Exclude<PresenceCause, 'push'>;

/**
 * The `presence` event: a room's members as they are now (`members`, `count`: what
 * `members(room)` returns), and how the list changed: `joined`, the members listed now that the
 * previous list did not have; `left`, those of the previous list that are gone (a member whose
 * entry was replaced is in neither). While the room is counted both are empty: its members are
 * unknown, not gone. With `error`, the server could not give the room's presence (the room is
 * still joined): its members are unknown until the next reconnection asks again.
 */
export type PresenceEvent =
  | (RoomPresence & {
      room: string;
      cause: PresenceCause;
      joined: RoomMember[];
      left: RoomMember[];
    })
  | {
      room: string;
      cause: Exclude<PresenceCause, 'push'>;
      error: ErrorPayload;
    };

/** What the client does next, in order: emit a `presence` event, or ask for the room's view. */
export type MembersAction =
  | { kind: 'presence'; event: PresenceEvent }
  | { kind: 'refresh'; room: string };

/** Pushes held per room while a view is awaited; past it the oldest are let go. */
export const MAX_HELD_PUSHES = 256;

/** One room joined with presence (or being joined so). */
interface RoomState {
  /** The server granted presence (a reply came): asked again on every reconnection. */
  wanted: boolean;
  /**
   * `listed`: `list` is the room's members. `counted`: only `count` is known, and `list` is the
   * last list the server gave, if `based` (a listed-again room's first diff is relative to it).
   * `unknown`: no view yet, or the server could not give one.
   */
  mode: 'listed' | 'counted' | 'unknown';
  list: Map<string, RoomMember>;
  based: boolean;
  count: number;
  /** Views awaited (`join`, `resume`, `presence`); meanwhile pushes are held. */
  syncs: number;
  held: unknown[];
}

type Parsed =
  { members?: RoomMember[]; count: number } | { error: ErrorPayload };

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object';

const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The members of a list that name an id; each copied, so the app's copy is its own. */
function membersOf(list: unknown): RoomMember[] {
  if (!Array.isArray(list)) return [];
  return list
    .filter(
      (member): member is RoomMember =>
        isObject(member) && typeof member.id === 'string',
    )
    .map((member) => ({ ...member }));
}

/** A join reply's or resume result's `presence`, or a `presence` reply: a view or an error. */
function parseView(presence: unknown): Parsed {
  if (isObject(presence)) {
    const { error } = presence;
    if (isObject(error) && typeof error.code === 'string') {
      return {
        error: {
          code: error.code,
          message: typeof error.message === 'string' ? error.message : '',
        } as ErrorPayload,
      };
    }
    if (Array.isArray(presence.members)) {
      const members = membersOf(presence.members);
      return { members, count: members.length };
    }
    if (isCount(presence.count)) return { count: presence.count };
  }
  return {
    error: { code: 'INTERNAL', message: 'the reply carries no presence' },
  };
}

/**
 * The members of the rooms joined with presence, kept from the view of the `join` reply and the
 * `presence` pushes after it, so that the app renders a list without reconciling diffs. It does
 * no I/O: each call returns the actions to carry out (emit, ask for a view).
 *
 * Diffs are applied idempotently: a member that joins while listed replaces its entry, one that
 * leaves while not listed is ignored. A `{room, count}` push makes the room counted (members
 * unknown) and sets the count; the list is kept aside, since the server's first diff when the room
 * is listed again is relative to it. A room counted from its first view has no such list: a diff
 * then asks for the view (`refresh`). Any view with members lists the room again. While a view is
 * awaited the room's pushes are held, then applied after it.
 */
export class RoomMembers {
  private readonly rooms = new Map<string, RoomState>();

  /** Whether the room was joined with presence: a reconnection asks for it again. */
  wants(room: string): boolean {
    return this.rooms.get(room)?.wanted === true;
  }

  /** The room's members and count; undefined when unknown or not joined with presence. */
  members(room: string): RoomPresence | undefined {
    const state = this.rooms.get(room);
    if (!state || state.mode === 'unknown') return undefined;
    return this.view(state);
  }

  /** A view of the room is being asked for (`join` or `resume` with presence): pushes are held. */
  beginSync(room: string): void {
    this.state(room).syncs++;
  }

  /**
   * A view came: `presence` as the `join` reply or `resume` result carries it (a view, or
   * `{error}`), or a `presence` reply. It replaces the list; the pushes held meanwhile follow.
   * One event tells the result. A `resume` or `refresh` of a room forgotten meanwhile does nothing.
   */
  synced(room: string, presence: unknown, cause: ViewCause): MembersAction[] {
    const state = cause === 'join' ? this.state(room) : this.rooms.get(room);
    if (!state) return [];
    state.syncs = Math.max(0, state.syncs - 1);
    state.wanted = true;
    const previous = new Map(state.list);
    const view = parseView(presence);
    if ('error' in view) {
      state.mode = 'unknown';
      state.list.clear();
      state.based = false;
      state.count = 0;
      state.held = [];
      return [
        {
          kind: 'presence',
          event: {
            room,
            cause,
            error: view.error,
          },
        },
      ];
    }
    if (view.members) {
      state.mode = 'listed';
      state.list = new Map(view.members.map((member) => [member.id, member]));
      state.based = true;
      state.count = state.list.size;
    } else {
      // Counted: the list kept is not what the server will diff against (only what events
      // compare with).
      state.mode = 'counted';
      state.based = false;
      state.count = view.count;
    }
    const refresh = state.syncs === 0 && this.drain(room, state);
    return this.changed(room, state, previous, cause, refresh);
  }

  /**
   * A view asked for could not be had (refused, no reply): a room not granted presence before is
   * forgotten; otherwise the held pushes are applied to what was known.
   */
  syncFailed(room: string): MembersAction[] {
    const state = this.rooms.get(room);
    if (!state) return [];
    state.syncs = Math.max(0, state.syncs - 1);
    if (state.syncs > 0) return [];
    if (!state.wanted) {
      this.rooms.delete(room);
      return [];
    }
    if (state.held.length === 0 || state.mode === 'unknown') {
      state.held = [];
      return [];
    }
    const previous = new Map(state.list);
    const refresh = this.drain(room, state);
    return this.changed(room, state, previous, 'push', refresh);
  }

  /** A `presence` push: applied (an event), held, ignored, or a view to ask for. */
  push(data: unknown): MembersAction[] {
    if (!isObject(data) || typeof data.room !== 'string') return [];
    const { room } = data;
    const state = this.rooms.get(room);
    if (!state) return [];
    if (state.syncs > 0) {
      state.held.push(data);
      if (state.held.length > MAX_HELD_PUSHES) state.held.shift();
      return [];
    }
    if (!state.wanted || state.mode === 'unknown') return [];
    const previous = new Map(state.list);
    const applied = this.apply(room, state, data);
    if (applied === 'ignored') return [];
    if (applied === 'refresh') return [{ kind: 'refresh', room }];
    return [
      {
        kind: 'presence',
        event: this.event(room, state, previous, 'push'),
      },
    ];
  }

  /** The connection dropped: the views asked for are void, held pushes will not be applied. */
  disconnected(): void {
    for (const state of this.rooms.values()) {
      state.syncs = 0;
      state.held = [];
    }
  }

  /** The room was left, or lost. */
  forget(room: string): void {
    this.rooms.delete(room);
  }

  /** The client closed: every room forgotten. */
  clear(): void {
    this.rooms.clear();
  }

  private state(room: string): RoomState {
    let state = this.rooms.get(room);
    if (!state) {
      state = {
        wanted: false,
        mode: 'unknown',
        list: new Map(),
        based: false,
        count: 0,
        syncs: 0,
        held: [],
      };
      this.rooms.set(room, state);
    }
    return state;
  }

  /**
   * Applies the held pushes in order. True when one of them asked for a view: the pushes after it
   * stay held until it comes.
   */
  private drain(room: string, state: RoomState): boolean {
    while (state.held.length > 0) {
      if (this.apply(room, state, state.held.shift()) === 'refresh')
        return true;
    }
    return false;
  }

  /** The event of a change, then the view to ask for, if any. */
  private changed(
    room: string,
    state: RoomState,
    previous: Map<string, RoomMember>,
    cause: PresenceCause,
    refresh: boolean,
  ): MembersAction[] {
    const actions: MembersAction[] = [
      { kind: 'presence', event: this.event(room, state, previous, cause) },
    ];
    if (refresh) actions.push({ kind: 'refresh', room });
    return actions;
  }

  /**
   * Applies one push. `refresh`: a diff for a room whose base list is not known; a view is now
   * being asked for (pushes are held until it comes).
   */
  private apply(
    room: string,
    state: RoomState,
    data: unknown,
  ): 'applied' | 'ignored' | 'refresh' {
    if (state.mode === 'unknown' || !isObject(data)) return 'ignored';
    const push = data as { joined?: unknown; left?: unknown; count?: unknown };
    if (Array.isArray(push.joined) || Array.isArray(push.left)) {
      if (state.mode === 'counted' && !state.based) {
        this.beginSync(room);
        return 'refresh';
      }
      for (const member of membersOf(push.left)) state.list.delete(member.id);
      for (const member of membersOf(push.joined)) {
        state.list.set(member.id, member);
      }
      state.mode = 'listed';
      state.based = true;
      state.count = state.list.size;
      return 'applied';
    }
    if (isCount(push.count)) {
      state.mode = 'counted';
      state.count = push.count;
      return 'applied';
    }
    return 'ignored';
  }

  private view(state: RoomState): RoomPresence {
    return state.mode === 'listed'
      ? {
          members: [...state.list.values()].map((member) => ({ ...member })),
          count: state.list.size,
        }
      : { count: state.count };
  }

  /** The event after a change: the room now, and the members added and gone since `previous`. */
  private event(
    room: string,
    state: RoomState,
    previous: Map<string, RoomMember>,
    cause: PresenceCause,
  ): PresenceEvent {
    const joined: RoomMember[] = [];
    const left: RoomMember[] = [];
    if (state.mode === 'listed') {
      for (const [id, member] of state.list) {
        if (!previous.has(id)) joined.push({ ...member });
      }
      for (const [id, member] of previous) {
        if (!state.list.has(id)) left.push({ ...member });
      }
    }
    return { room, cause, ...this.view(state), joined, left };
  }
}
