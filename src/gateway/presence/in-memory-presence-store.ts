import type {
  PresenceChange,
  PresenceMember,
  PresenceSnapshot,
  PresenceStore,
} from './presence-store.js';

/** What {@link InMemoryPresenceStore.stats} reports. */
export interface InMemoryPresenceStats {
  /** Rooms with at least one member (an emptied room is deleted). */
  rooms: number;
  /** Members, over all rooms (one principal in two rooms counts twice). */
  members: number;
}

/** A member as the store holds it: its info as last written, and its connections. */
interface Entry {
  info: Record<string, unknown>;
  connections: number;
}

/**
 * The {@link PresenceStore} of a single instance: every room's members in this process's memory.
 * There are no other instances, so nothing is published on a bus (the caller hands the changes
 * it gets to its own subscribers), nothing expires ({@link sweep} finds nothing) and nothing is
 * ever lost ({@link refresh} normally finds nothing to add).
 *
 * A room exists while it has members: the last one's leaving deletes it. Versions are drawn from
 * one counter for the whole store rather than one per room, so that a room deleted and created
 * again goes on counting upwards: a subscriber that saw version 7 of the room's first life must
 * not take version 1 of its second for an old change. They still increase, per room, in the
 * order the changes were made, which is all {@link PresenceChange.version} promises.
 *
 * `set` is O(1); `list` is O(limit), whatever the room's size.
 */
export class InMemoryPresenceStore implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, Entry>>();
  /** The version of the store's latest change, in any room; 0 before the first. */
  private version = 0;
  private members = 0;

  constructor(
    /** The instance this store serves; kept for logs and symmetry with shared stores. */
    readonly instanceId: string,
  ) {}

  /** Rooms and members held, right now. */
  get stats(): InMemoryPresenceStats {
    return { rooms: this.rooms.size, members: this.members };
  }

  /**
   * Sets the member's connections in the room. Its `info` replaces the one kept (the list shows
   * the latest), without a change: only a first connection (a join) or a last one going (a
   * leave) is a change. Rejects with a RangeError when `connections` is not an integer >= 0.
   */
  set(
    room: string,
    member: Omit<PresenceMember, 'connections'>,
    connections: number,
  ): Promise<PresenceChange | undefined> {
    if (!Number.isInteger(connections) || connections < 0)
      return Promise.reject(
        new RangeError(
          `connections must be an integer >= 0, not ${connections}`,
        ),
      );
    return Promise.resolve(this.apply(room, member, connections));
  }

  list(room: string, limit: number): Promise<PresenceSnapshot> {
    const entries = this.rooms.get(room);
    const members: PresenceMember[] = [];
    const most = limit > 0 ? Math.floor(limit) : 0;
    if (entries && most > 0)
      for (const [id, entry] of entries) {
        members.push({ id, info: entry.info, connections: entry.connections });
        if (members.length >= most) break;
      }
    return Promise.resolve({
      members,
      count: entries?.size ?? 0,
      // The store's counter, not the room's last change: for a room without members that is the
      // only value below every later change of the room; for others it is as good.
      version: this.version,
    });
  }

  /**
   * Writes every member of `parts` with a connection again (connections and info). This process
   * is the only one that writes, so it never lacks one: the changes it resolves with, joins of
   * members it did not have, are normally none. Members missing from `parts` stay: leaving is
   * {@link set}'s business. Parts with no connections (0 or less) are skipped.
   */
  refresh(
    parts: ReadonlyMap<string, ReadonlyMap<string, PresenceMember>>,
  ): Promise<PresenceChange[]> {
    const changes: PresenceChange[] = [];
    for (const [room, members] of parts)
      for (const member of members.values()) {
        if (!(member.connections > 0)) continue;
        const change = this.apply(
          room,
          { id: member.id, info: member.info },
          Math.floor(member.connections),
        );
        if (change) changes.push(change);
      }
    return Promise.resolve(changes);
  }

  /** Nothing expires in a single process: always none. */
  sweep(_room: string): Promise<PresenceChange[]> {
    return Promise.resolve([]);
  }

  private apply(
    room: string,
    member: Omit<PresenceMember, 'connections'>,
    connections: number,
  ): PresenceChange | undefined {
    let entries = this.rooms.get(room);
    const entry = entries?.get(member.id);
    if (connections === 0) {
      if (!entries || !entry) return undefined;
      entries.delete(member.id);
      this.members--;
      if (entries.size === 0) this.rooms.delete(room);
      return {
        room,
        member: { id: member.id, info: entry.info },
        present: false,
        version: ++this.version,
      };
    }
    if (entry) {
      entry.connections = connections;
      entry.info = member.info;
      return undefined;
    }
    if (!entries) {
      entries = new Map();
      this.rooms.set(room, entries);
    }
    entries.set(member.id, { info: member.info, connections });
    this.members++;
    return {
      room,
      member: { id: member.id, info: member.info },
      present: true,
      version: ++this.version,
    };
  }
}
