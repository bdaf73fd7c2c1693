import { InMemoryPresenceStore } from './in-memory-presence-store.js';
import type { PresenceMember } from './presence-store.js';

const alice = { id: 'alice', info: { name: 'Alice' } };
const bob = { id: 'bob', info: { name: 'Bob' } };

const parts = (
  ...entries: [string, PresenceMember[]][]
): Map<string, Map<string, PresenceMember>> =>
  new Map(
    entries.map(([room, members]) => [
      room,
      new Map(members.map((m) => [m.id, m])),
    ]),
  );

describe('InMemoryPresenceStore', () => {
  it('changes on the first connection and the last, not in between', async () => {
    const store = new InMemoryPresenceStore('i1');
    const joined = await store.set('r', alice, 1);
    expect(joined).toEqual({
      room: 'r',
      member: alice,
      present: true,
      version: 1,
    });
    expect(await store.set('r', alice, 2)).toBeUndefined();
    expect(await store.set('r', alice, 1)).toBeUndefined();
    expect(await store.list('r', 10)).toEqual({
      members: [{ ...alice, connections: 1 }],
      count: 1,
      version: 1,
    });
    expect(await store.set('r', alice, 0)).toEqual({
      room: 'r',
      member: alice,
      present: false,
      version: 2,
    });
    expect(await store.set('r', alice, 0)).toBeUndefined();
  });

  it('keeps the latest info, and a leave carries the info the member had', async () => {
    const store = new InMemoryPresenceStore('i1');
    await store.set('r', alice, 1);
    await store.set('r', { id: 'alice', info: { name: 'Al' } }, 2);
    expect((await store.list('r', 1)).members).toEqual([
      { id: 'alice', info: { name: 'Al' }, connections: 2 },
    ]);
    const left = await store.set('r', { id: 'alice', info: {} }, 0);
    expect(left?.member).toEqual({ id: 'alice', info: { name: 'Al' } });
  });

  it('keeps rooms apart, and lists at most limit members with the full count', async () => {
    const store = new InMemoryPresenceStore('i1');
    for (let i = 0; i < 50; i++)
      await store.set('big', { id: `m${i}`, info: {} }, 1);
    await store.set('small', bob, 3);
    const big = await store.list('big', 7);
    expect(big.members).toHaveLength(7);
    expect(new Set(big.members.map((m) => m.id)).size).toBe(7);
    expect(big.count).toBe(50);
    expect((await store.list('big', 0)).members).toEqual([]);
    expect((await store.list('big', -1)).members).toEqual([]);
    expect((await store.list('big', 2.5)).members).toHaveLength(2);
    expect(await store.list('small', 100)).toMatchObject({
      members: [{ ...bob, connections: 3 }],
      count: 1,
    });
    expect(await store.list('none', 100)).toMatchObject({
      members: [],
      count: 0,
    });
  });

  it('deletes emptied rooms, and their versions still go upwards when they come back', async () => {
    const store = new InMemoryPresenceStore('i1');
    await store.set('r', alice, 1);
    await store.set('r', bob, 1);
    await store.set('other', alice, 1);
    expect(store.stats).toEqual({ rooms: 2, members: 3 });
    await store.set('r', alice, 0);
    const last = await store.set('r', bob, 0);
    expect(store.stats).toEqual({ rooms: 1, members: 1 });
    await store.set('other', alice, 0);
    expect(store.stats).toEqual({ rooms: 0, members: 0 });

    const empty = await store.list('r', 10);
    expect(empty.version).toBeGreaterThanOrEqual(last!.version);
    const again = await store.set('r', alice, 1);
    expect(again!.version).toBeGreaterThan(empty.version);
    expect(store.stats).toEqual({ rooms: 1, members: 1 });
  });

  it('never creates a room for a member that has no connection', async () => {
    const store = new InMemoryPresenceStore('i1');
    expect(await store.set('r', alice, 0)).toBeUndefined();
    expect(store.stats).toEqual({ rooms: 0, members: 0 });
    expect((await store.list('r', 10)).version).toBe(0);
  });

  it('rejects a connection count that is not an integer >= 0', async () => {
    const store = new InMemoryPresenceStore('i1');
    await expect(store.set('r', alice, -1)).rejects.toThrow(RangeError);
    await expect(store.set('r', alice, 1.5)).rejects.toThrow(RangeError);
    await expect(store.set('r', alice, Number.NaN)).rejects.toThrow(RangeError);
    expect(store.stats).toEqual({ rooms: 0, members: 0 });
  });

  it('versions the store applied are increasing per room in the order of the changes', async () => {
    const store = new InMemoryPresenceStore('i1');
    const versions: number[] = [];
    for (let i = 0; i < 5; i++) {
      versions.push((await store.set('r', alice, 1))!.version);
      await store.set('x', bob, i % 2);
      versions.push((await store.set('r', alice, 0))!.version);
    }
    for (let i = 1; i < versions.length; i++)
      expect(versions[i]).toBeGreaterThan(versions[i - 1]);
  });

  it('refresh writes members again and reports only those it did not have', async () => {
    const store = new InMemoryPresenceStore('i1');
    await store.set('r', alice, 1);
    const changes = await store.refresh(
      parts(
        [
          'r',
          [
            { ...alice, connections: 3 },
            { ...bob, connections: 1 },
          ],
        ],
        ['s', [{ ...bob, connections: 0 }]],
      ),
    );
    expect(changes).toEqual([
      { room: 'r', member: bob, present: true, version: 2 },
    ]);
    expect((await store.list('r', 10)).members).toEqual(
      expect.arrayContaining([
        { ...alice, connections: 3 },
        { ...bob, connections: 1 },
      ]),
    );
    expect(store.stats).toEqual({ rooms: 1, members: 2 });
    // Members missing from the parts stay, and so do those the parts say have no connection.
    expect(await store.refresh(parts(['r', []]))).toEqual([]);
    expect(
      await store.refresh(parts(['r', [{ ...alice, connections: 0 }]])),
    ).toEqual([]);
    expect((await store.list('r', 10)).count).toBe(2);
  });

  it('sweep finds nothing to expire', async () => {
    const store = new InMemoryPresenceStore('i1');
    await store.set('r', alice, 1);
    expect(await store.sweep('r')).toEqual([]);
    expect((await store.list('r', 10)).count).toBe(1);
    expect(store.instanceId).toBe('i1');
  });
});
