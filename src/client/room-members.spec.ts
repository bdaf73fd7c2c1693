import {
  MAX_HELD_PUSHES,
  RoomMembers,
  type MembersAction,
  type PresenceEvent,
} from './room-members.js';

const alice = { id: 'alice', info: { name: 'Alice' } };
const bob = { id: 'bob', info: { name: 'Bob' } };
const carol = { id: 'carol', info: { name: 'Carol' } };

/** A room joined with presence, seeded with this view. */
function joinedWith(view: unknown, room = 'r'): RoomMembers {
  const members = new RoomMembers();
  members.beginSync(room);
  members.synced(room, view, 'join');
  return members;
}

const diff = (joined: object[], left: object[] = [], room = 'r') => ({
  room,
  joined,
  left,
});

/** The events among the actions. */
const events = (actions: MembersAction[]): PresenceEvent[] =>
  actions.flatMap((action) =>
    action.kind === 'presence' ? [action.event] : [],
  );

describe('RoomMembers', () => {
  it('seeds the list from the join reply, and tells every member joined', () => {
    const members = new RoomMembers();
    members.beginSync('r');
    expect(members.members('r')).toBeUndefined();
    const actions = members.synced(
      'r',
      { members: [{ ...alice, connections: 2 }, bob], count: 2 },
      'join',
    );
    expect(actions).toEqual([
      {
        kind: 'presence',
        event: {
          room: 'r',
          cause: 'join',
          members: [{ ...alice, connections: 2 }, bob],
          count: 2,
          joined: [{ ...alice, connections: 2 }, bob],
          left: [],
        },
      },
    ]);
    expect(members.wants('r')).toBe(true);
    expect(members.members('r')).toEqual({
      members: [{ ...alice, connections: 2 }, bob],
      count: 2,
    });
  });

  it('applies a diff: joined members added, left members removed, the count follows', () => {
    const members = joinedWith({ members: [alice, bob], count: 2 });
    const actions = members.push(diff([carol], [alice]));
    expect(events(actions)).toEqual([
      {
        room: 'r',
        cause: 'push',
        members: [bob, carol],
        count: 2,
        joined: [carol],
        left: [alice],
      },
    ]);
    expect(members.members('r')).toEqual({ members: [bob, carol], count: 2 });
  });

  it('is idempotent: a joined member already listed is replaced, a left one not listed is ignored', () => {
    const members = joinedWith({
      members: [{ ...alice, connections: 2 }, bob],
      count: 2,
    });
    const renamed = { id: 'alice', info: { name: 'Alice B.' } };
    const [event] = events(members.push(diff([renamed], [carol])));
    expect(event).toEqual({
      room: 'r',
      cause: 'push',
      // Replaced in place: the push's entry, without the view's connection count.
      members: [renamed, bob],
      count: 2,
      joined: [],
      left: [],
    });
    // The same diff twice changes nothing more.
    members.push(diff([carol], [bob]));
    members.push(diff([carol], [bob]));
    expect(members.members('r')).toEqual({
      members: [renamed, carol],
      count: 2,
    });
  });

  it('a count push makes the room counted (members unknown); the next diff lists it again from the kept list', () => {
    const members = joinedWith({ members: [alice, bob], count: 2 });
    const [counted] = events(members.push({ room: 'r', count: 1500 }));
    expect(counted).toEqual({
      room: 'r',
      cause: 'push',
      count: 1500,
      joined: [],
      left: [],
    });
    expect(members.members('r')).toEqual({ count: 1500 });
    expect(events(members.push({ room: 'r', count: 1400 }))[0]).toMatchObject({
      count: 1400,
    });
    // Shrunk back: the server diffs against the list last listed (alice, bob).
    const [listed] = events(members.push(diff([carol], [bob])));
    expect(listed).toEqual({
      room: 'r',
      cause: 'push',
      members: [alice, carol],
      count: 2,
      joined: [carol],
      left: [bob],
    });
    expect(members.members('r')).toEqual({ members: [alice, carol], count: 2 });
  });

  it('a view with members lists a counted room again; one without counts it', () => {
    const members = joinedWith({ count: 2000 });
    expect(members.members('r')).toEqual({ count: 2000 });
    members.beginSync('r');
    const [event] = events(
      members.synced('r', { members: [alice], count: 1 }, 'resume'),
    );
    expect(event).toMatchObject({
      cause: 'resume',
      members: [alice],
      count: 1,
      joined: [alice],
    });
    members.beginSync('r');
    members.synced('r', { count: 3000 }, 'resume');
    expect(members.members('r')).toEqual({ count: 3000 });
    // Counted by a view, the list kept before is not what the server diffs against: ask.
    expect(members.push(diff([bob]))).toEqual([{ kind: 'refresh', room: 'r' }]);
    // The view that comes is compared with the last list (alice).
    const [refreshed] = events(
      members.synced('r', { members: [bob], count: 1 }, 'refresh'),
    );
    expect(refreshed).toMatchObject({ joined: [bob], left: [alice] });
  });

  it('a diff for a room counted since its first view asks for the view, then holds pushes until it comes', () => {
    const members = joinedWith({ count: 1500 });
    expect(members.push(diff([carol]))).toEqual([
      { kind: 'refresh', room: 'r' },
    ]);
    // Asked once: the pushes meanwhile wait for the view.
    expect(members.push(diff([], [alice]))).toEqual([]);
    const actions = members.synced(
      'r',
      { room: 'r', members: [alice, bob], count: 2 },
      'refresh',
    );
    expect(actions).toEqual([
      {
        kind: 'presence',
        event: {
          room: 'r',
          cause: 'refresh',
          members: [bob],
          count: 1,
          joined: [bob],
          left: [],
        },
      },
    ]);
    // A refused refresh leaves it counted: the next diff asks again.
    const big = joinedWith({ count: 1500 });
    big.push(diff([carol]));
    expect(big.syncFailed('r')).toEqual([]);
    expect(big.members('r')).toEqual({ count: 1500 });
    expect(big.push(diff([carol]))).toEqual([{ kind: 'refresh', room: 'r' }]);
  });

  it('holds pushes while a view is awaited and applies them after it, in one event', () => {
    const members = new RoomMembers();
    members.beginSync('r');
    expect(members.push(diff([carol]))).toEqual([]);
    expect(members.push(diff([], [alice]))).toEqual([]);
    expect(
      events(members.synced('r', { members: [alice, bob], count: 2 }, 'join')),
    ).toEqual([
      {
        room: 'r',
        cause: 'join',
        members: [bob, carol],
        count: 2,
        joined: [bob, carol],
        left: [],
      },
    ]);
  });

  it('keeps at most MAX_HELD_PUSHES pushes, the newest', () => {
    const members = new RoomMembers();
    members.beginSync('r');
    for (let i = 0; i <= MAX_HELD_PUSHES; i++) {
      members.push(diff([{ id: `m${i}`, info: {} }]));
    }
    members.synced('r', { members: [], count: 0 }, 'join');
    const listed = members.members('r')!.members!.map(({ id }) => id);
    expect(listed).toHaveLength(MAX_HELD_PUSHES);
    expect(listed[0]).toBe('m1');
  });

  it('a view with an error leaves the members unknown, keeps the room wanted, and ignores pushes', () => {
    const members = joinedWith({ members: [alice], count: 1 });
    members.beginSync('r');
    const error = { code: 'UNAVAILABLE', message: 'store away' };
    expect(members.synced('r', { error }, 'resume')).toEqual([
      { kind: 'presence', event: { room: 'r', cause: 'resume', error } },
    ]);
    expect(members.members('r')).toBeUndefined();
    expect(members.wants('r')).toBe(true);
    expect(members.push(diff([bob]))).toEqual([]);
    // A reply without presence at all is an error too.
    const bare = new RoomMembers();
    bare.beginSync('r');
    expect(events(bare.synced('r', undefined, 'join'))).toEqual([
      {
        room: 'r',
        cause: 'join',
        error: { code: 'INTERNAL', message: 'the reply carries no presence' },
      },
    ]);
  });

  it('a failed first join forgets the room; a failed view of a wanted room applies what was held', () => {
    const members = new RoomMembers();
    members.beginSync('r');
    members.push(diff([alice]));
    expect(members.syncFailed('r')).toEqual([]);
    expect(members.wants('r')).toBe(false);
    expect(members.push(diff([alice]))).toEqual([]);
    // Forgotten: a resume result for it changes nothing.
    expect(
      members.synced('r', { members: [alice], count: 1 }, 'resume'),
    ).toEqual([]);

    const wanted = joinedWith({ members: [alice], count: 1 });
    wanted.beginSync('r');
    wanted.push(diff([bob]));
    expect(events(wanted.syncFailed('r'))).toEqual([
      {
        room: 'r',
        cause: 'push',
        members: [alice, bob],
        count: 2,
        joined: [bob],
        left: [],
      },
    ]);
  });

  it('replaces the list on a resume and tells what changed since the previous one', () => {
    const members = joinedWith({ members: [alice, bob], count: 2 });
    members.beginSync('r');
    const [event] = events(
      members.synced(
        'r',
        { members: [{ ...bob, connections: 1 }, carol], count: 2 },
        'resume',
      ),
    );
    expect(event).toEqual({
      room: 'r',
      cause: 'resume',
      members: [{ ...bob, connections: 1 }, carol],
      count: 2,
      joined: [carol],
      left: [alice],
    });
  });

  it('a drop voids the views awaited and drops what was held; forget and clear drop rooms', () => {
    const members = joinedWith({ members: [alice], count: 1 });
    members.beginSync('r');
    members.push(diff([bob]));
    members.disconnected();
    // Not holding any more.
    expect(events(members.push(diff([carol])))[0]).toMatchObject({
      members: [alice, carol],
    });
    // And the held push is gone: the next view is not followed by it.
    members.beginSync('r');
    members.synced('r', { members: [alice], count: 1 }, 'resume');
    expect(members.members('r')).toEqual({ members: [alice], count: 1 });
    // A resume or refresh of a room forgotten meanwhile does nothing.
    members.forget('r');
    expect(
      members.synced('r', { members: [alice], count: 1 }, 'resume'),
    ).toEqual([]);
    expect(members.members('r')).toBeUndefined();
    const two = joinedWith({ members: [alice], count: 1 });
    two.beginSync('s');
    two.synced('s', { members: [bob], count: 1 }, 'join');
    two.clear();
    expect([two.wants('r'), two.wants('s')]).toEqual([false, false]);
  });

  it('ignores pushes of other rooms and malformed ones', () => {
    const members = joinedWith({ members: [alice], count: 1 });
    for (const data of [
      null,
      'r',
      { room: 'other', joined: [bob], left: [] },
      { room: 'r' },
      { room: 'r', count: -1 },
    ]) {
      expect(members.push(data)).toEqual([]);
    }
    // Members without an id are left out.
    members.push(diff([{ info: {} }, bob]));
    expect(members.members('r')).toEqual({ members: [alice, bob], count: 2 });
  });

  it('hands out copies: the app cannot change the list by changing what it got', () => {
    const members = joinedWith({ members: [alice], count: 1 });
    const seen = members.members('r')!;
    seen.members!.push(bob);
    seen.members![0].id = 'mallory';
    expect(members.members('r')).toEqual({ members: [alice], count: 1 });
  });
});
