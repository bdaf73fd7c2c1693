import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  PresenceBatcher,
  type PresenceCount,
  type PresenceDiff,
} from './presence-batcher.js';
import type { PresenceChange, PresenceSnapshot } from './presence-store.js';

const TICK = 200;

const member = (id: string) => ({ id, info: { name: id.toUpperCase() } });
const join = (id: string, version: number, room = 'r'): PresenceChange => ({
  room,
  member: member(id),
  present: true,
  version,
});
const leave = (id: string, version: number, room = 'r'): PresenceChange => ({
  room,
  member: member(id),
  present: false,
  version,
});
const snapshot = (
  ids: string[],
  version: number,
  count = ids.length,
): PresenceSnapshot => ({
  members: ids.map((id) => ({ ...member(id), connections: 1 })),
  count,
  version,
});

const batchers: PresenceBatcher[] = [];

function setup(maxMembers = 1000) {
  const sent: [string, PresenceDiff | PresenceCount][] = [];
  const batcher = new PresenceBatcher({
    tickMs: TICK,
    maxMembers,
    send: (room, payload) => sent.push([room, payload]),
  });
  batchers.push(batcher);
  /** What was sent since the last call, the tick's end included. */
  const tick = () => {
    vi.advanceTimersByTime(TICK);
    return sent.splice(0);
  };
  return { batcher, sent, tick };
}

/** A diff's ids, sorted, for comparing sets. */
const ids = (members: { id: string }[]) => members.map((m) => m.id).sort();

describe('PresenceBatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    for (const batcher of batchers.splice(0)) batcher.close();
    vi.useRealTimers();
  });

  it('sends each room its net diff once, at the end of the tick', () => {
    const { batcher, sent, tick } = setup();
    batcher.start('r', snapshot(['carol', 'dave'], 10));
    batcher.start('s', snapshot([], 3));
    batcher.accept(join('alice', 11));
    batcher.accept(join('bob', 12));
    batcher.accept(leave('carol', 13));
    batcher.accept(join('erin', 4, 's'));
    vi.advanceTimersByTime(TICK - 1);
    expect(sent).toEqual([]);
    expect(tick()).toEqual([
      [
        'r',
        {
          room: 'r',
          joined: [member('alice'), member('bob')],
          left: [member('carol')],
        },
      ],
      ['s', { room: 's', joined: [member('erin')], left: [] }],
    ]);
    batcher.accept(leave('alice', 14));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [], left: [member('alice')] }],
    ]);
  });

  it('leaves out a member that came and went, or went and came back, within a tick', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot(['carol'], 10));
    batcher.accept(join('alice', 11));
    batcher.accept(leave('alice', 12));
    batcher.accept(leave('carol', 13));
    batcher.accept(join('carol', 14));
    batcher.accept(join('bob', 15));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('bob')], left: [] }],
    ]);
    // Nothing but comings and goings that cancel out: nothing is sent at all.
    batcher.accept(join('alice', 16));
    batcher.accept(leave('alice', 17));
    batcher.accept(leave('bob', 18));
    batcher.accept(join('bob', 19));
    expect(tick()).toEqual([]);
  });

  it('keeps the later of a member’s changes when they arrive out of order, and each once', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot(['carol'], 10));
    batcher.accept(leave('alice', 12));
    batcher.accept(join('alice', 11));
    batcher.accept(join('bob', 13));
    batcher.accept(join('bob', 13));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('bob')], left: [] }],
    ]);
    // Across ticks too: a stale leave of bob, a stale join of alice, a replayed leave of carol.
    batcher.accept(leave('carol', 14));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [], left: [member('carol')] }],
    ]);
    batcher.accept(leave('bob', 12));
    batcher.accept(join('alice', 11));
    batcher.accept(join('carol', 13));
    batcher.accept(leave('carol', 14));
    expect(tick()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('seeds from the snapshot: changes up to its version are already in it', () => {
    const { batcher, tick } = setup();
    batcher.accept(join('alice', 5)); // not tracked yet: ignored
    batcher.start('r', snapshot(['alice', 'bob'], 10));
    batcher.accept(join('alice', 9));
    batcher.accept(leave('bob', 8));
    batcher.accept(join('zoe', 10));
    batcher.accept(leave('carol', 7));
    expect(tick()).toEqual([]);
    batcher.accept(leave('bob', 11));
    batcher.accept(join('zoe', 12));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('zoe')], left: [member('bob')] }],
    ]);
    // Starting again forgets what the room had, pending changes too: the new snapshot is the
    // base.
    batcher.accept(join('carol', 13));
    batcher.start('r', snapshot(['bob'], 20));
    expect(vi.getTimerCount()).toBe(0);
    batcher.accept(leave('zoe', 21));
    batcher.accept(leave('bob', 22));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [], left: [member('bob')] }],
    ]);
  });

  it('ignores rooms it does not track, and runs no timer for them', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot([], 0));
    batcher.accept(join('alice', 1, 'elsewhere'));
    batcher.setCount('elsewhere', 5);
    expect(vi.getTimerCount()).toBe(0);
    expect(tick()).toEqual([]);
  });

  it('counts a room that grows past maxMembers, once per tick and only when the count changed', () => {
    const { batcher, tick } = setup(3);
    batcher.start('r', snapshot(['a', 'b'], 10));
    batcher.accept(join('c', 11));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('c')], left: [] }],
    ]);
    batcher.accept(join('d', 12));
    batcher.accept(join('e', 13));
    batcher.accept(join('e', 13)); // a duplicate is not counted twice
    expect(tick()).toEqual([['r', { room: 'r', count: 5 }]]);
    batcher.accept(join('f', 14));
    batcher.accept(leave('f', 15));
    expect(tick()).toEqual([]);
    batcher.accept(leave('a', 16));
    expect(tick()).toEqual([['r', { room: 'r', count: 4 }]]);
    // Present members' newer joins (their leaves were lost) and a gone one's newer leave
    // count nothing.
    batcher.accept(join('b', 17));
    batcher.accept(join('c', 18));
    batcher.accept(leave('a', 19));
    expect(tick()).toEqual([]);
    batcher.setCount('r', 40);
    expect(tick()).toEqual([['r', { room: 'r', count: 40 }]]);
    batcher.setCount('r', 40);
    expect(tick()).toEqual([]);
  });

  it('lists a room again when it shrinks, with the diff against the last list sent', () => {
    const { batcher, tick } = setup(3);
    batcher.start('r', snapshot(['a', 'b', 'c'], 10));
    batcher.accept(join('d', 11));
    expect(tick()).toEqual([['r', { room: 'r', count: 4 }]]);
    batcher.accept(leave('a', 12));
    batcher.accept(leave('b', 13));
    batcher.accept(join('x', 14));
    batcher.accept(leave('x', 15));
    // Subscribers were last listed a, b, c: d came, a and b went, x came and went.
    const [[room, diff]] = tick() as [string, PresenceDiff][];
    expect(room).toBe('r');
    expect(ids(diff.joined)).toEqual(['d']);
    expect(ids(diff.left)).toEqual(['a', 'b']);
    batcher.accept(leave('c', 16));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [], left: [member('c')] }],
    ]);
  });

  it('lists a room again with an empty diff when it shrinks back to the members last listed', () => {
    const { batcher, tick } = setup(3);
    batcher.start('r', snapshot(['a', 'b', 'c'], 10));
    batcher.accept(join('d', 11));
    expect(tick()).toEqual([['r', { room: 'r', count: 4 }]]);
    batcher.accept(leave('d', 12));
    expect(tick()).toEqual([['r', { room: 'r', joined: [], left: [] }]]);
    // Listed: a tick without a change sends nothing again.
    batcher.accept(join('e', 13));
    batcher.accept(leave('e', 14));
    expect(tick()).toEqual([]);
  });

  it('counts a room that was too large to list when it started, even once it is small', () => {
    const { batcher, tick } = setup(3);
    // The join reply of a large room lists nobody: the snapshot has 3 of its 5 members.
    batcher.start('r', snapshot(['a', 'b', 'c'], 10, 5));
    batcher.accept(leave('x', 11)); // one the snapshot did not list
    batcher.accept(leave('a', 12));
    batcher.accept(leave('a', 12));
    expect(tick()).toEqual([['r', { room: 'r', count: 3 }]]);
    batcher.accept(leave('b', 13));
    batcher.accept(join('y', 14));
    batcher.accept(leave('c', 15));
    expect(tick()).toEqual([['r', { room: 'r', count: 2 }]]);
  });

  it('lists a complete snapshot of a large room in full once it shrinks', () => {
    const { batcher, tick } = setup(2);
    // All three listed, but the reply (over maxMembers) showed none of them.
    batcher.start('r', snapshot(['a', 'b', 'c'], 10));
    batcher.accept(leave('c', 11));
    const [[, diff]] = tick() as [string, PresenceDiff][];
    expect(ids(diff.joined)).toEqual(['a', 'b']);
    expect(diff.left).toEqual([]);
  });

  it('sends a room at most once per tick during a mass join', () => {
    const { batcher, sent } = setup();
    batcher.start('r', snapshot([], 0));
    const seconds = 1;
    const joins = 1000;
    for (let i = 1; i <= joins; i++) {
      batcher.accept(join(`m${i}`, i));
      vi.advanceTimersByTime((seconds * 1000) / joins);
    }
    vi.advanceTimersByTime(TICK);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThanOrEqual((seconds * 1000) / TICK + 1);
    const joined = sent.flatMap(([, p]) => (p as PresenceDiff).joined);
    expect(joined).toHaveLength(joins);
    expect(new Set(ids(joined)).size).toBe(joins);
  });

  it('drops pending changes on stop, and stops the timer with the last of them', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot([], 0));
    batcher.start('s', snapshot([], 0));
    batcher.accept(join('alice', 1));
    batcher.accept(join('bob', 1, 's'));
    batcher.stop('r');
    expect(vi.getTimerCount()).toBe(1);
    batcher.stop('s');
    expect(vi.getTimerCount()).toBe(0);
    expect(tick()).toEqual([]);
    batcher.accept(join('carol', 2));
    expect(vi.getTimerCount()).toBe(0);
    expect(batcher.stats).toEqual({ rooms: 0, versions: 0, pendingRooms: 0 });
  });

  it('runs its timer only while changes wait, unref’d', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot([], 0));
    expect(vi.getTimerCount()).toBe(0);
    const spy = vi.spyOn(globalThis, 'setTimeout');
    batcher.accept(join('alice', 1));
    batcher.accept(join('bob', 2));
    expect(vi.getTimerCount()).toBe(1);
    expect(spy).toHaveBeenCalledTimes(1);
    const timer = spy.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
    expect(tick()).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    // A change the room ignores starts nothing.
    batcher.accept(join('bob', 2));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close drops everything and takes nothing after', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot([], 0));
    batcher.accept(join('alice', 1));
    batcher.close();
    expect(vi.getTimerCount()).toBe(0);
    batcher.start('r', snapshot([], 0));
    batcher.accept(join('bob', 2));
    expect(vi.getTimerCount()).toBe(0);
    expect(tick()).toEqual([]);
    expect(batcher.stats).toEqual({ rooms: 0, versions: 0, pendingRooms: 0 });
  });

  it('holds O(members) versions however many members come and go, and still ignores stale joins', () => {
    const { batcher, sent, tick } = setup();
    batcher.start('r', snapshot(['a', 'b'], 0));
    let version = 0;
    for (let i = 0; i < 10_000; i++) {
      batcher.accept(join(`v${i}`, ++version));
      batcher.accept(leave(`v${i}`, ++version));
      if (i % 100 === 0) vi.advanceTimersByTime(TICK);
    }
    vi.advanceTimersByTime(TICK);
    expect(sent).toEqual([]);
    // The two members, and as many departures again plus 256.
    expect(batcher.stats.versions).toBeLessThanOrEqual(2 + 2 + 256);
    // The oldest visitors were forgotten, yet their late joins are still known to be old.
    batcher.accept(join('v0', 1));
    batcher.accept(join('v9999', version - 1));
    expect(tick()).toEqual([]);
    batcher.accept(join('new', ++version));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('new')], left: [] }],
    ]);
  });

  it('sends the other rooms when send throws for one, then throws', () => {
    const sent: string[] = [];
    const batcher = new PresenceBatcher({
      tickMs: TICK,
      maxMembers: 10,
      send: (room) => {
        sent.push(room);
        if (room === 'bad') throw new Error('boom');
      },
    });
    batchers.push(batcher);
    for (const room of ['bad', 'good']) {
      batcher.start(room, snapshot([], 0));
      batcher.accept(join('alice', 1, room));
    }
    expect(() => vi.advanceTimersByTime(TICK)).toThrow('boom');
    expect(sent).toEqual(['bad', 'good']);
    expect(batcher.stats.pendingRooms).toBe(0);
  });

  it('resync: members the snapshot lacks leave, those it lists join; a change newer than the snapshot stands', () => {
    const { batcher, tick } = setup();
    batcher.start('r', snapshot(['alice', 'bob'], 10));
    batcher.accept(join('carol', 11));
    expect(tick()).toEqual([
      ['r', { room: 'r', joined: [member('carol')], left: [] }],
    ]);
    // Taken before the resync, newer than its snapshot.
    batcher.accept(join('dave', 20));
    batcher.resync('r', snapshot(['alice', 'erin'], 15));
    const [[room, diff]] = tick() as [[string, PresenceDiff]];
    expect(room).toBe('r');
    expect(ids(diff.joined)).toEqual(['dave', 'erin']);
    expect(ids(diff.left)).toEqual(['bob', 'carol']);
    // In line: a second resync of the same state sends nothing; stale changes stay ignored.
    batcher.resync('r', snapshot(['alice', 'dave', 'erin'], 21));
    batcher.accept(join('bob', 14));
    expect(tick()).toEqual([]);
    // An untracked room is ignored.
    batcher.resync('other', snapshot(['alice'], 30));
    expect(tick()).toEqual([]);
  });

  it('resync of a room not listed in full corrects only its count', () => {
    const { batcher, tick } = setup(2);
    batcher.start('r', snapshot(['a', 'b', 'c'], 10, 5));
    batcher.resync('r', snapshot(['a', 'b', 'c'], 12, 4));
    expect(tick()).toEqual([['r', { room: 'r', count: 4 }]]);
  });

  it('rejects options it cannot work with', () => {
    const send = () => undefined;
    expect(
      () => new PresenceBatcher({ tickMs: 0, maxMembers: 1, send }),
    ).toThrow(RangeError);
    expect(
      () => new PresenceBatcher({ tickMs: Infinity, maxMembers: 1, send }),
    ).toThrow(RangeError);
    expect(
      () => new PresenceBatcher({ tickMs: 10, maxMembers: -1, send }),
    ).toThrow(RangeError);
  });
});
