import { Redis } from 'ioredis';
import { eventually } from '../../../test/support/eventually.js';
import {
  OwnRedis,
  SHARED_REDIS_URL,
  freePort,
} from '../../../test/support/redis-server.js';
import { redisStoreSuite } from '../../../test/support/redis-store-suite.js';
import { decodeBusMessage } from '../bus/bus-codec.js';
import { ChannelPrefixError, redisChannel } from '../bus/channels.js';
import {
  presenceChannel,
  type PresenceChange,
  type PresenceMember,
} from './presence-store.js';
import {
  RedisPresenceStore,
  type RedisPresenceOptions,
} from './redis-presence-store.js';

// Real Redis throughout: the shared one (each test under a prefix of its own, whose keys it
// deletes), and a private redis-server for the outage.

const UNAVAILABLE = /^Redis at 127\.0\.0\.1:\d+ is unavailable \(.+\)$/;
const LONG_TTL = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Member = Omit<PresenceMember, 'connections'>;
const member = (id: string, info: Record<string, unknown> = { name: id }) => ({
  id,
  info,
});

/** The change frame as the store must publish it, byte for byte. */
const frameOf = (room: string, m: Member, present: boolean, version: number) =>
  `{"room":${JSON.stringify(room)},"member":${JSON.stringify({ id: m.id, info: m.info })},"present":${present},"version":${version}}`;

/** An instance's parts: room -> member id -> member with its connections. */
function parts(
  ...entries: [room: string, m: Member, connections: number][]
): Map<string, Map<string, PresenceMember>> {
  const out = new Map<string, Map<string, PresenceMember>>();
  for (const [room, m, connections] of entries) {
    const members = out.get(room) ?? new Map<string, PresenceMember>();
    members.set(m.id, { ...m, connections });
    out.set(room, members);
  }
  return out;
}

const redis = redisStoreSuite();

/** A store on the shared Redis under this test's prefix, closed after the test. */
async function store(
  options: Partial<RedisPresenceOptions> = {},
  wait = true,
): Promise<RedisPresenceStore> {
  const s = new RedisPresenceStore({
    url: SHARED_REDIS_URL,
    channelPrefix: redis.prefix,
    instanceId: 'a',
    ttlMs: LONG_TTL,
    ...options,
  });
  return redis.opened(s, wait);
}

/** A plain subscriber on a room's presence channel, recording what it receives. */
const subscriber = (room: string, url?: string) =>
  redis.subscriber(presenceChannel(room), url);

/** A received bus message: its origin and the change in its frame (raw and parsed). */
function decoded(raw: string) {
  const message = decodeBusMessage(raw);
  expect(message).toBeDefined();
  return {
    origin: message!.origin,
    frame: message!.frame,
    change: JSON.parse(message!.frame) as PresenceChange,
  };
}

const byId = (a: { id: string }, b: { id: string }) =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

describe('RedisPresenceStore', () => {
  it('adds up the instances: one member, connections summed; joins with the first, leaves with the last', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    const alice = member('alice');

    const joined = await a.set('lobby', alice, 1);
    expect(joined).toEqual({
      room: 'lobby',
      member: alice,
      present: true,
      version: expect.any(Number) as number,
    });
    expect(await b.set('lobby', alice, 2)).toBeUndefined();
    expect(await a.list('lobby', 10)).toEqual({
      members: [{ ...alice, connections: 3 }],
      count: 1,
      version: joined!.version,
    });
    expect(await b.list('lobby', 10)).toMatchObject({
      members: [{ ...alice, connections: 3 }],
    });

    expect(await a.set('lobby', alice, 0)).toBeUndefined();
    expect(await b.set('lobby', alice, 1)).toBeUndefined();
    expect((await a.list('lobby', 10)).members).toEqual([
      { ...alice, connections: 1 },
    ]);
    // Setting 0 where the instance has nothing changes nothing.
    expect(await a.set('lobby', alice, 0)).toBeUndefined();

    const left = await b.set('lobby', alice, 0);
    expect(left).toEqual({
      room: 'lobby',
      member: alice,
      present: false,
      version: expect.any(Number) as number,
    });
    expect(left!.version).toBeGreaterThan(joined!.version);
    expect(await a.list('lobby', 10)).toEqual({
      members: [],
      count: 0,
      version: left!.version,
    });
    // Nothing of the member is left behind.
    expect(
      await redis.admin.exists(redisChannel(redis.prefix, 'presence:lobby')),
    ).toBe(0);
    expect(
      await redis.admin.exists(
        redisChannel(redis.prefix, 'presence-exp:lobby'),
      ),
    ).toBe(0);
  });

  it('publishes each join and leave on the presence channel in the bus format, frames byte-exact', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    const room = 'lobby "1" ü:/x';
    const received = await subscriber(room);
    const zoe = member('zoë|\n"1"', {
      name: 'Zoë 🚀 "quoted" \\ back\nslash',
      nested: { list: [1, 2.5, { deep: null }], flag: true, empty: {} },
      big: 2 ** 64,
      max: Number.MAX_SAFE_INTEGER,
      tiny: 1e-7,
      sum: 0.1 + 0.2,
      negative: -0,
      ключ: '值',
    });

    const joined = await a.set(room, zoe, 1);
    expect(await b.set(room, zoe, 1)).toBeUndefined();
    expect(await a.set(room, zoe, 0)).toBeUndefined();
    const left = await b.set(room, zoe, 0);

    await eventually(() => received.length >= 2, 'the join and the leave');
    await sleep(50);
    expect(received).toHaveLength(2);
    const [join, leave] = received.map(decoded);
    expect(join.origin).toBe('a');
    expect(join.frame).toBe(frameOf(room, zoe, true, joined!.version));
    expect(join.change).toEqual(joined);
    expect(leave.origin).toBe('b');
    expect(leave.frame).toBe(frameOf(room, zoe, false, left!.version));
    expect(leave.change).toEqual(left);
    expect(leave.change.member).toEqual(JSON.parse(JSON.stringify(zoe)));
  });

  it('keeps the info set last while present, and a leave carries the info as it was', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    await a.set('lobby', member('alice', { name: 'first' }), 1);
    await b.set('lobby', member('alice', { name: 'second' }), 1);
    expect((await a.list('lobby', 10)).members).toEqual([
      { id: 'alice', info: { name: 'second' }, connections: 2 },
    ]);
    // The leaving instance's own idea of the info does not matter: the stored one goes out.
    await a.set('lobby', member('alice', { name: 'stale' }), 0);
    const left = await b.set('lobby', member('alice', { name: 'stale' }), 0);
    expect(left?.member).toEqual({ id: 'alice', info: { name: 'second' } });
  });

  it('numbers a room’s changes in increasing versions, which keep increasing after its keys are lost', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    const changes: (PresenceChange | undefined)[] = [];
    changes.push(await a.set('lobby', member('u1'), 1));
    changes.push(await b.set('lobby', member('u2'), 1));
    changes.push(await b.set('other', member('u1'), 1));
    changes.push(await a.set('lobby', member('u1'), 0));
    changes.push(await b.set('lobby', member('u1'), 1));
    changes.push(await b.set('lobby', member('u2'), 0));
    const lobby = changes
      .filter((c): c is PresenceChange => c?.room === 'lobby')
      .map((c) => c.version);
    expect(lobby).toHaveLength(5);
    for (let i = 1; i < lobby.length; i++)
      expect(lobby[i]).toBe(lobby[i - 1] + 1);
    expect((await a.list('lobby', 0)).version).toBe(lobby[4]);
    expect((await a.list('nobody-here', 0)).version).toBe(0);

    // A Redis restarted empty, or keys expired: the counter starts again, above where it was.
    await redis.deleteKeys();
    const again = await a.set('lobby', member('u1'), 1);
    expect(again!.version).toBeGreaterThan(lobby[4]);
    expect(Number.isSafeInteger(again!.version)).toBe(true);
    expect(await b.set('lobby', member('u1'), 2)).toBeUndefined();
    expect(await a.set('lobby', member('u1'), 0)).toBeUndefined();
    expect((await b.set('lobby', member('u1'), 0))?.version).toBe(
      again!.version + 1,
    );
  });

  it('drops the part of an instance that stopped refreshing: sweep yields leaves for the members only it had', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b', ttlMs: 300 });
    const received = await subscriber('lobby');
    const [alice, bob] = [member('alice'), member('bob', { name: 'Bob' })];
    await a.set('lobby', alice, 1);
    await b.set('lobby', alice, 2);
    const bobJoined = await b.set('lobby', bob, 1);
    // Not yet expired: nothing to sweep.
    expect(await a.sweep('lobby')).toEqual([]);
    expect((await a.list('lobby', 10)).count).toBe(2);

    await sleep(450);
    const swept = await a.sweep('lobby');
    expect(swept).toEqual([
      {
        room: 'lobby',
        member: bob,
        present: false,
        version: bobJoined!.version + 1,
      },
    ]);
    expect(await a.sweep('lobby')).toEqual([]);
    expect(await a.list('lobby', 10)).toEqual({
      members: [{ ...alice, connections: 1 }],
      count: 1,
      version: bobJoined!.version + 1,
    });
    await eventually(() => received.length === 3, 'two joins and a leave');
    const leave = decoded(received[2]);
    expect(leave.origin).toBe('a');
    expect(leave.frame).toBe(frameOf('lobby', bob, false, swept[0].version));
  });

  it('drops expired parts when listing, and publishes their leaves so that the lister hears them too', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b', ttlMs: 300 });
    await b.set('lobby', member('carol'), 1);
    await b.set('lobby', member('dave'), 1);
    await a.set('lobby', member('dave'), 1);
    await sleep(450);
    const received = await subscriber('lobby');

    const snapshot = await a.list('lobby', 10);
    expect(snapshot).toMatchObject({
      members: [{ ...member('dave'), connections: 1 }],
      count: 1,
    });
    await eventually(() => received.length === 1, "carol's leave");
    const leave = decoded(received[0]);
    // Not `a`: a's own bus would skip it, and list hands no changes to its caller.
    expect(leave.origin).toBe('a/list');
    expect(leave.change).toEqual({
      room: 'lobby',
      member: member('carol'),
      present: false,
      version: snapshot.version,
    });
    expect(await a.sweep('lobby')).toEqual([]);
  });

  it('keeps a part alive past its ttl while it is refreshed', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b', ttlMs: 300 });
    const bob = member('bob');
    await b.set('lobby', bob, 2);
    for (let i = 0; i < 8; i++) {
      await sleep(100);
      expect(await b.refresh(parts(['lobby', bob, 2]))).toEqual([]);
    }
    expect(await a.sweep('lobby')).toEqual([]);
    expect((await a.list('lobby', 10)).members).toEqual([
      { ...bob, connections: 2 },
    ]);

    await sleep(450);
    expect(
      (await a.sweep('lobby')).map((c) => [c.member.id, c.present]),
    ).toEqual([['bob', false]]);
  });

  it('announces again on refresh what the store lost: a join change, published', async () => {
    const a = await store({ instanceId: 'a' });
    const received = await subscriber('r1');
    const [alice, bob] = [member('alice'), member('bob')];
    await a.set('r1', alice, 2);
    await a.set('r2', bob, 1);
    const mine = parts(['r1', alice, 2], ['r2', bob, 1]);
    expect(await a.refresh(mine)).toEqual([]);

    await redis.deleteKeys();
    const changes = await a.refresh(mine);
    expect(changes.map((c) => [c.room, c.member, c.present])).toEqual([
      ['r1', alice, true],
      ['r2', bob, true],
    ]);
    expect(await a.list('r1', 10)).toMatchObject({
      members: [{ ...alice, connections: 2 }],
      count: 1,
    });
    expect(await a.refresh(mine)).toEqual([]);

    await eventually(() => received.length === 2, 'the join and the re-join');
    await sleep(50);
    expect(received).toHaveLength(2);
    const rejoin = decoded(received[1]);
    expect(rejoin.origin).toBe('a');
    expect(rejoin.frame).toBe(frameOf('r1', alice, true, changes[0].version));
  });

  it('writes counts and info again on refresh, and removes a member refreshed with 0', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    await a.set('lobby', member('alice', { v: 1 }), 1);
    await b.set('lobby', member('alice', { v: 1 }), 1);
    // The same count, new info.
    expect(
      await a.refresh(parts(['lobby', member('alice', { v: 2 }), 1])),
    ).toEqual([]);
    expect((await b.list('lobby', 10)).members).toEqual([
      { id: 'alice', info: { v: 2 }, connections: 2 },
    ]);
    expect(
      await a.refresh(parts(['lobby', member('alice', { v: 2 }), 3])),
    ).toEqual([]);
    expect((await b.list('lobby', 10)).members).toEqual([
      { id: 'alice', info: { v: 2 }, connections: 4 },
    ]);
    expect(await a.refresh(parts(['lobby', member('alice'), 0]))).toEqual([]);
    expect((await b.list('lobby', 10)).members).toMatchObject([
      { connections: 1 },
    ]);
    const left = await b.refresh(parts(['lobby', member('alice'), 0]));
    expect(left.map((c) => [c.member, c.present])).toEqual([
      [{ id: 'alice', info: { v: 2 } }, false],
    ]);
  });

  it('lists at most `limit` members of a 5,000-member room, with the full count, quickly', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b' });
    const everyone = parts(
      ...Array.from(
        { length: 5_000 },
        (_, i) =>
          ['big', member(`m${i}`, { n: i }), 1] as [string, Member, number],
      ),
    );
    const joined = await a.refresh(everyone);
    expect(joined).toHaveLength(5_000);
    expect(new Set(joined.map((c) => c.version)).size).toBe(5_000);
    expect(
      await redis.admin.hlen(redisChannel(redis.prefix, 'presence:big')),
    ).toBe(5_000);
    // The second refresh writes nothing but the expiries.
    let started = Date.now();
    expect(await a.refresh(everyone)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);

    for (const limit of [0, 1, 100, 1_000, 4_999]) {
      started = Date.now();
      const snapshot = await b.list('big', limit);
      if (limit <= 100) expect(Date.now() - started).toBeLessThan(100);
      expect(snapshot.count).toBe(5_000);
      expect(snapshot.members).toHaveLength(limit);
      expect(new Set(snapshot.members.map((m) => m.id)).size).toBe(limit);
      for (const m of snapshot.members)
        expect(m).toEqual({
          id: m.id,
          info: { n: Number(m.id.slice(1)) },
          connections: 1,
        });
    }
    const all = await b.list('big', 10_000);
    expect(all.members.sort(byId)).toEqual(
      [...everyone.get('big')!.values()].sort(byId),
    );
  });

  it('sweeps thousands of expired parts in batches, through sweep and list', async () => {
    const a = await store({ instanceId: 'a' });
    const b = await store({ instanceId: 'b', ttlMs: 300 });
    const many = (room: string, n: number) =>
      parts(
        ...Array.from(
          { length: n },
          (_, i) => [room, member(`m${i}`), 1] as [string, Member, number],
        ),
      );
    await b.refresh(many('r1', 2_500));
    await b.refresh(many('r2', 1_500));
    await a.set('r2', member('m0'), 1);
    await sleep(450);

    const swept = await a.sweep('r1');
    expect(swept).toHaveLength(2_500);
    expect(new Set(swept.map((c) => c.member.id)).size).toBe(2_500);
    expect(swept.every((c) => !c.present)).toBe(true);
    expect((await a.list('r1', 10)).count).toBe(0);

    expect(await a.list('r2', 10)).toMatchObject({
      count: 1,
      members: [{ id: 'm0', connections: 1 }],
    });
    expect(
      await redis.admin.zcard(redisChannel(redis.prefix, 'presence-exp:r2')),
    ).toBe(1);
  });

  it('lets the keys expire a few ttls after the last write, and never shortens them', async () => {
    const b = await store({ instanceId: 'b', ttlMs: 300 });
    await b.set('lobby', member('bob'), 1);
    const keys = ['presence', 'presence-exp', 'presence-v'].map((k) =>
      redisChannel(redis.prefix, `${k}:lobby`),
    );
    for (const key of keys) {
      const ttl = await redis.admin.pttl(key);
      expect(ttl).toBeGreaterThan(300);
      expect(ttl).toBeLessThanOrEqual(900);
    }
    await eventually(
      async () => (await redis.admin.exists(...keys)) === 0,
      'the keys to expire',
      3_000,
    );

    const a = await store({ instanceId: 'a', ttlMs: 10_000 });
    await a.set('lobby', member('alice'), 1);
    await b.set('lobby', member('bob'), 1);
    for (const key of keys)
      expect(await redis.admin.pttl(key)).toBeGreaterThan(25_000);
  });

  it('keeps rooms and prefixes apart, whatever ":" and "|" the names hold', async () => {
    const a = await store();
    const otherPrefix = `${redis.prefix}x`;
    const b = await store({ channelPrefix: otherPrefix });
    try {
      await a.set('a:b|c', member('u'), 1);
      await a.set('a', member('u'), 2);
      expect(await b.set('a:b|c', member('u'), 1)).toMatchObject({
        present: true,
      });
      expect((await a.list('a:b|c', 10)).members).toEqual([
        { ...member('u'), connections: 1 },
      ]);
      expect((await a.list('a', 10)).members).toEqual([
        { ...member('u'), connections: 2 },
      ]);
    } finally {
      await redis.deleteKeys(otherPrefix);
    }
  });

  it('refuses arguments it cannot store, without touching Redis', async () => {
    const a = await store();
    await expect(a.set('lobby', member('u'), -1)).rejects.toThrow(RangeError);
    await expect(a.set('lobby', member('u'), 1.5)).rejects.toThrow(RangeError);
    await expect(a.list('lobby', -1)).rejects.toThrow(RangeError);
    await expect(
      a.refresh(parts(['lobby', member('u'), Number.NaN])),
    ).rejects.toThrow(RangeError);
    expect(await redis.admin.keys(`${redis.prefix}|*`)).toEqual([]);
  });

  it('throws for a channel prefix with "|", an instance id with "|" and a ttl below 1 ms', () => {
    const options = {
      url: SHARED_REDIS_URL,
      channelPrefix: 'p',
      instanceId: 'i',
      ttlMs: 1_000,
    };
    expect(
      () => new RedisPresenceStore({ ...options, channelPrefix: 'a|b' }),
    ).toThrow(ChannelPrefixError);
    for (const instanceId of ['a|b', 'a\nb', ''])
      expect(() => new RedisPresenceStore({ ...options, instanceId })).toThrow(
        RangeError,
      );
    expect(() => new RedisPresenceStore({ ...options, ttlMs: 0 })).toThrow(
      RangeError,
    );
  });

  it('rejects at once while Redis cannot be reached, without naming the password', async () => {
    const port = await freePort();
    const s = await store({ url: `redis://:s3cret@127.0.0.1:${port}` }, false);
    const started = Date.now();
    const failure = await s
      .set('lobby', member('u'), 1)
      .catch((err: Error) => err);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(UNAVAILABLE);
    expect((failure as Error).message).not.toContain('s3cret');
    await expect(s.list('lobby', 1)).rejects.toThrow(UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(s.isReady()).toBe(false);
    await eventually(
      () => redis.logged.some((line) => line.includes('Redis unreachable')),
      'the unreachable warning',
    );
    expect(redis.logged.join('\n')).not.toContain('s3cret');
  });

  it(
    'rejects within 2.5 s while its Redis is down, and announces its members again once it is back',
    { timeout: 30_000 },
    async () => {
      const own = await OwnRedis.start();
      try {
        const s = await store({ url: own.url });
        const alice = member('alice');
        const mine = parts(['lobby', alice, 1]);
        const joined = await s.set('lobby', alice, 1);
        expect(joined?.present).toBe(true);

        await own.stop();
        for (const attempt of [
          () => s.set('lobby', alice, 2),
          () => s.list('lobby', 10),
          () => s.refresh(mine),
          () => s.sweep('lobby'),
        ]) {
          const started = Date.now();
          await expect(attempt()).rejects.toThrow(UNAVAILABLE);
          expect(Date.now() - started).toBeLessThan(2_500);
        }
        // The calls above may all fail before the event loop has seen the socket close.
        await eventually(() => !s.isReady(), 'the store to notice');
        expect(
          redis.logged.filter((l) => l.includes('Redis connection lost')),
        ).toHaveLength(1);

        await own.start();
        await eventually(() => s.isReady(), 'the store to reconnect', 10_000);
        // The restarted server has neither the members nor the scripts: back via EVAL.
        const again = await s.refresh(mine);
        expect(again.map((c) => [c.member, c.present])).toEqual([
          [alice, true],
        ]);
        expect(await s.list('lobby', 10)).toMatchObject({
          members: [{ ...alice, connections: 1 }],
          count: 1,
        });
      } finally {
        await own.stop();
      }
    },
  );

  it('quits its connection on shutdown, after which it is not ready', async () => {
    // A Redis of its own, so that the client list holds no other test's connections.
    const own = await OwnRedis.start();
    const watcher = new Redis(own.url);
    try {
      const s = await store({ url: own.url });
      const names = async () =>
        String(await watcher.client('LIST'))
          .split('\n')
          .map((line) => /\bname=(\S*)/.exec(line)?.[1])
          .filter(Boolean);
      expect(await names()).toContain('gateway-presence');

      await s.onApplicationShutdown();
      expect(s.isReady()).toBe(false);
      await eventually(
        async () => !(await names()).includes('gateway-presence'),
        'the presence connection to close',
      );
      expect(
        redis.logged.filter((l) => l.includes('Redis connection lost')),
      ).toEqual([]);
      await expect(s.set('lobby', member('u'), 1)).rejects.toThrow(UNAVAILABLE);
    } finally {
      watcher.disconnect();
      await own.stop();
    }
  });
});
