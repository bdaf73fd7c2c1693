/**
 * What a room's presence says of one member: a principal (by its subject), the public `info` the
 * host gives it (a display name, say; never a token or scopes), and how many connections it has
 * in the room, over every instance.
 */
export interface PresenceMember {
  id: string;
  info: Record<string, unknown>;
  connections: number;
}

/**
 * A member's presence changed anywhere in the cluster: it joined with its first connection to
 * the room, or left with its last. `version` counts the room's changes (per room, increasing in
 * the order the store applied them), so that an instance receiving two changes of one member in
 * the wrong order keeps the later.
 */
export interface PresenceChange {
  room: string;
  /** The member; `info` as it joined (present) or as it was (left). */
  member: Omit<PresenceMember, 'connections'>;
  present: boolean;
  version: number;
}

/** A room's members at one moment. */
export interface PresenceSnapshot {
  /** At most the `limit` asked for; none when `limit` is 0. */
  members: PresenceMember[];
  /** Every member, listed or not. */
  count: number;
  /** The room's change counter when it was read. */
  version: number;
}

/**
 * Who is in which room, over every instance. Each instance states its own part (how many
 * connections each member has in a room on it); the store adds the parts up, and when a
 * member's first connection anywhere arrives or its last goes, it hands a {@link PresenceChange}
 * to every instance (the bus channel `presence:<room>`) in the same step, and to the caller.
 *
 * An instance's part lives for `ttlMs` unless {@link refresh}ed: the part of an instance that
 * died (SIGKILL, a lost node) goes by itself, and {@link sweep} turns what went into changes.
 *
 * Every method rejects when the store cannot be reached; the caller then answers `UNAVAILABLE`.
 */
export interface PresenceStore {
  /**
   * Sets how many connections `member` has in `room` on this instance (0: none). Resolves with
   * the change when the member joined or left the room as a whole, else undefined.
   */
  set(
    room: string,
    member: Omit<PresenceMember, 'connections'>,
    connections: number,
  ): Promise<PresenceChange | undefined>;
  /** The room's members (at most `limit`, in no stated order), their count and version. */
  list(room: string, limit: number): Promise<PresenceSnapshot>;
  /**
   * Keeps this instance's part alive for another `ttlMs`: every member it has in each room, with
   * its connection count and info, written again (so that a store that lost them, a Redis
   * restarted empty, has them back). Resolves with the changes this caused.
   */
  refresh(
    parts: ReadonlyMap<string, ReadonlyMap<string, PresenceMember>>,
  ): Promise<PresenceChange[]>;
  /** Drops the expired parts of other instances in `room`; resolves with the changes. */
  sweep(room: string): Promise<PresenceChange[]>;
  /** Whether the store can be reached right now (readiness); a store without it always can. */
  isReady?(): boolean;
}

/** Injection token of the {@link PresenceStore}. */
export const PRESENCE_STORE = Symbol('PRESENCE_STORE');

/** The bus channel that carries a room's presence changes. */
export const presenceChannel = (room: string) => `presence:${room}`;
