import type { Frame } from '../protocol/index.js';
import { RoomPositions, type PositionAction } from './room-positions.js';

/** A `message` push of `room` at `offset` (none: a room without history). */
const push = (room: string, offset?: number): Frame => ({
  event: 'message',
  data:
    offset === undefined
      ? { room, from: 'c1', data: 'x' }
      : { room, from: 'c1', data: `m${offset}`, offset },
});

/** The actions, short: `deliver 3`, `recovery {...}`, `resync 2@e1`. */
function describe_(actions: PositionAction[]): unknown[] {
  return actions.map((action) => {
    switch (action.kind) {
      case 'deliver': {
        const data = action.frame.data as { offset?: number } | null;
        return `deliver ${data?.offset ?? '-'}`;
      }
      case 'recovery':
        return action.recovery;
      case 'resync':
        return `resync ${action.room} ${action.since.offset}@${action.since.epoch}`;
    }
  });
}

/** Positions with `room` joined at `offset` in epoch `e1`. */
function joinedAt(offset: number, room = 'r', maxHeld = 100) {
  const positions = new RoomPositions(maxHeld);
  expect(positions.beginSync(room)).toBeUndefined();
  expect(positions.synced(room, { room, offset, epoch: 'e1' })).toEqual([]);
  return positions;
}

describe('RoomPositions', () => {
  it('takes the position of the join reply and advances it with each push', () => {
    const positions = joinedAt(5);
    expect(positions.position('r')).toEqual({ offset: 5, epoch: 'e1' });
    expect(describe_(positions.push(push('r', 6)))).toEqual(['deliver 6']);
    expect(describe_(positions.push(push('r', 7)))).toEqual(['deliver 7']);
    expect(positions.position('r')).toEqual({ offset: 7, epoch: 'e1' });
  });

  it('drops a push at or below the position: a duplicate', () => {
    const positions = joinedAt(5);
    expect(positions.push(push('r', 5))).toEqual([]);
    expect(positions.push(push('r', 2))).toEqual([]);
    positions.push(push('r', 6));
    expect(positions.push(push('r', 6))).toEqual([]);
    expect(positions.position('r')?.offset).toBe(6);
  });

  it('delivers as they are pushes without offset and pushes of rooms it does not track', () => {
    const positions = joinedAt(5);
    expect(describe_(positions.push(push('r')))).toEqual(['deliver -']);
    expect(describe_(positions.push(push('other', 9)))).toEqual(['deliver 9']);
    expect(describe_(positions.push({ event: 'message', data: null }))).toEqual(
      ['deliver -'],
    );
    expect(positions.position('r')?.offset).toBe(5);
  });

  it('holds the pushes before a first join reply, then delivers those after its top, in order', () => {
    const positions = new RoomPositions(100);
    positions.beginSync('r');
    expect(positions.push(push('r', 12))).toEqual([]);
    expect(positions.push(push('r', 11))).toEqual([]);
    expect(positions.push(push('r', 10))).toEqual([]);
    // A first join is no recovery: no event.
    expect(
      describe_(positions.synced('r', { room: 'r', offset: 10, epoch: 'e1' })),
    ).toEqual(['deliver 11', 'deliver 12']);
  });

  it('on a gap holds the push and asks for exactly one re-sync, whatever follows', () => {
    const positions = joinedAt(5);
    expect(describe_(positions.push(push('r', 8)))).toEqual(['resync r 5@e1']);
    expect(positions.push(push('r', 9))).toEqual([]);
    expect(positions.push(push('r', 11))).toEqual([]);
    expect(positions.position('r')?.offset).toBe(5);
  });

  it('after a recovered re-sync delivers the replayed pushes, then the held ones, each once, in order', () => {
    const positions = joinedAt(5);
    positions.push(push('r', 8));
    positions.push(push('r', 9));
    // The replay, before the reply: 6 .. 9 (8 and 9 again), then a live 10.
    for (const offset of [6, 7, 8, 9, 10]) {
      expect(positions.push(push('r', offset))).toEqual([]);
    }
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 9,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 6',
      'deliver 7',
      'deliver 8',
      'deliver 9',
      { room: 'r', recovered: true, position: { offset: 9, epoch: 'e1' } },
      'deliver 10',
    ]);
    expect(positions.position('r')).toEqual({ offset: 10, epoch: 'e1' });
    expect(positions.push(push('r', 8))).toEqual([]);
    expect(describe_(positions.push(push('r', 11)))).toEqual(['deliver 11']);
  });

  it('not recovered in the same epoch: jumps to the reply, says how many were missed, goes on from there', () => {
    const positions = joinedAt(5);
    positions.push(push('r', 8));
    positions.push(push('r', 13));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 12,
          epoch: 'e1',
          recovered: false,
        }),
      ),
    ).toEqual([
      {
        room: 'r',
        recovered: false,
        position: { offset: 12, epoch: 'e1' },
        missed: 7,
      },
      'deliver 13',
    ]);
    expect(positions.position('r')).toEqual({ offset: 13, epoch: 'e1' });
  });

  it('not recovered into another epoch: the missed count is unknown, held pushes past the new top follow', () => {
    const positions = joinedAt(500);
    positions.beginSync('r');
    // A live push of the new epoch, below the old position, before the reply: held, not dropped.
    positions.push(push('r', 4));
    expect(
      describe_(
        positions.synced(
          'r',
          { room: 'r', offset: 3, epoch: 'e2', recovered: false },
          { resume: true },
        ),
      ),
    ).toEqual([
      { room: 'r', recovered: false, position: { offset: 3, epoch: 'e2' } },
      'deliver 4',
    ]);
    expect(positions.position('r')).toEqual({ offset: 4, epoch: 'e2' });
  });

  it('a recovered reply that leaves the position below its top is not a recovery', () => {
    const positions = joinedAt(5);
    positions.beginSync('r');
    positions.push(push('r', 6));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 9,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 6',
      {
        room: 'r',
        recovered: false,
        position: { offset: 9, epoch: 'e1' },
        missed: 3,
      },
    ]);
  });

  it('tells a resume without a previous position, not recovered and with no missed count', () => {
    const positions = new RoomPositions(100);
    positions.beginSync('r');
    expect(
      positions.synced(
        'r',
        { room: 'r', offset: 7, epoch: 'e1' },
        { resume: true },
      ),
    ).toEqual([
      {
        kind: 'recovery',
        recovery: {
          room: 'r',
          recovered: false,
          position: { offset: 7, epoch: 'e1' },
        },
      },
    ]);
  });

  it('a reply without position (no history) forgets the position and releases what was held', () => {
    const positions = joinedAt(5);
    positions.beginSync('r');
    positions.push(push('r', 7));
    positions.push(push('r', 6));
    expect(describe_(positions.synced('r', { room: 'r' }))).toEqual([
      'deliver 6',
      'deliver 7',
    ]);
    expect(positions.position('r')).toBeUndefined();
    expect(describe_(positions.push(push('r', 3)))).toEqual(['deliver 3']);
  });

  it('a failed re-sync delivers the held pushes in order and counts the lost ones', () => {
    const positions = joinedAt(5);
    positions.push(push('r', 9));
    positions.push(push('r', 8));
    positions.push(push('r', 11));
    expect(describe_(positions.syncFailed('r'))).toEqual([
      'deliver 8',
      'deliver 9',
      'deliver 11',
      {
        room: 'r',
        recovered: false,
        position: { offset: 11, epoch: 'e1' },
        missed: 3,
      },
    ]);
    expect(describe_(positions.push(push('r', 12)))).toEqual(['deliver 12']);
  });

  it('a postponed resume keeps the position, delivers what follows on, lets the rest go, claims nothing lost', () => {
    const positions = joinedAt(5);
    expect(positions.beginSync('r')).toEqual({ offset: 5, epoch: 'e1' });
    positions.push(push('r', 6));
    positions.push(push('r', 9));
    expect(describe_(positions.syncPostponed('r'))).toEqual(['deliver 6']);
    expect(positions.position('r')).toEqual({ offset: 6, epoch: 'e1' });
    // Pushes flow as before: the next is delivered, the let-go 9 comes again with the next resume.
    expect(describe_(positions.push(push('r', 7)))).toEqual(['deliver 7']);
    expect(positions.beginSync('r')).toEqual({ offset: 7, epoch: 'e1' });
    for (const offset of [8, 9]) positions.push(push('r', offset));
    expect(
      describe_(
        positions.synced(
          'r',
          { room: 'r', offset: 9, epoch: 'e1', recovered: true },
          { resume: true },
        ),
      ),
    ).toEqual([
      'deliver 8',
      'deliver 9',
      { room: 'r', recovered: true, position: { offset: 9, epoch: 'e1' } },
    ]);
  });

  it('re-syncs again after a reply when the held buffer overflowed, and not when a re-sync moved nothing', () => {
    const positions = joinedAt(0, 'r', 3);
    positions.push(push('r', 2)); // gap: re-sync 0
    for (const offset of [3, 4, 5, 6]) positions.push(push('r', offset));
    // The replay: 1 is kept (the highest held, 4, goes), 2 and 3 are held already.
    positions.push(push('r', 1));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 6,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual(['deliver 1', 'deliver 2', 'deliver 3', 'resync r 3@e1']);
    for (const offset of [4, 5, 6]) positions.push(push('r', offset));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 6,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 4',
      'deliver 5',
      'deliver 6',
      { room: 'r', recovered: true, position: { offset: 6, epoch: 'e1' } },
    ]);
    expect(describe_(positions.push(push('r', 7)))).toEqual(['deliver 7']);

    // Held pushes that a re-sync cannot place (another epoch's) are let go after one more try.
    const stale = joinedAt(10);
    expect(describe_(stale.push(push('r', 50)))).toEqual(['resync r 10@e1']);
    expect(
      describe_(
        stale.synced('r', {
          room: 'r',
          offset: 2,
          epoch: 'e2',
          recovered: false,
        }),
      ),
    ).toEqual([
      { room: 'r', recovered: false, position: { offset: 2, epoch: 'e2' } },
      'resync r 2@e2',
    ]);
    expect(
      describe_(
        stale.synced('r', {
          room: 'r',
          offset: 2,
          epoch: 'e2',
          recovered: true,
        }),
      ),
    ).toEqual([
      { room: 'r', recovered: true, position: { offset: 2, epoch: 'e2' } },
    ]);
    expect(describe_(stale.push(push('r', 3)))).toEqual(['deliver 3']);
  });

  it('asks for no second re-sync while another sync of the room is awaited', () => {
    const positions = joinedAt(5);
    expect(describe_(positions.push(push('r', 8)))).toEqual(['resync r 5@e1']);
    // The app joins the room again meanwhile: a second sync.
    expect(positions.beginSync('r')).toEqual({ offset: 5, epoch: 'e1' });
    positions.push(push('r', 6));
    // The first reply leaves a gap (7), but the second sync is under way: no re-sync now.
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 6,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 6',
      { room: 'r', recovered: true, position: { offset: 6, epoch: 'e1' } },
    ]);
    positions.push(push('r', 7));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 8,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 7',
      'deliver 8',
      { room: 'r', recovered: true, position: { offset: 8, epoch: 'e1' } },
    ]);
  });

  it('waits for its own publish in flight before calling a gap, and skips the offset its reply names', () => {
    const positions = joinedAt(5);
    const published = positions.publishing('r');
    // 6 is this client's own message, never pushed back to it: 7 is no gap once 6 is known.
    expect(positions.push(push('r', 7))).toEqual([]);
    expect(describe_(published({ offset: 6, epoch: 'e1' }))).toEqual([
      'deliver 7',
    ]);
    expect(positions.position('r')?.offset).toBe(7);

    // A reply without offset (a server that does not say): the gap is a gap after all.
    const unknown = positions.publishing('r');
    positions.push(push('r', 9));
    expect(describe_(unknown({}))).toEqual(['resync r 7@e1']);
  });

  it('skips its own offset when the re-sync replays it', () => {
    const positions = joinedAt(5);
    const published = positions.publishing('r');
    positions.beginSync('r');
    published({ offset: 6 });
    positions.push(push('r', 6));
    positions.push(push('r', 7));
    expect(
      describe_(
        positions.synced('r', {
          room: 'r',
          offset: 7,
          epoch: 'e1',
          recovered: true,
        }),
      ),
    ).toEqual([
      'deliver 7',
      { room: 'r', recovered: true, position: { offset: 7, epoch: 'e1' } },
    ]);
  });

  it('after a drop keeps the positions but not what was held or the syncs in flight', () => {
    const positions = joinedAt(5);
    positions.push(push('r', 8)); // gap: a re-sync in flight
    positions.disconnected();
    expect(positions.beginSync('r')).toEqual({ offset: 5, epoch: 'e1' });
    positions.push(push('r', 6));
    expect(
      describe_(
        positions.synced(
          'r',
          { room: 'r', offset: 6, epoch: 'e1', recovered: true },
          { resume: true },
        ),
      ),
    ).toEqual([
      'deliver 6',
      { room: 'r', recovered: true, position: { offset: 6, epoch: 'e1' } },
    ]);
    positions.forget('r');
    expect(positions.position('r')).toBeUndefined();
  });
});
