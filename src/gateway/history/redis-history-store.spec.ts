import { Redis } from 'ioredis';
import { eventually } from '../../../test/support/eventually.js';
import {
  OwnRedis,
  SHARED_REDIS_URL,
  freePort,
} from '../../../test/support/redis-server.js';
import { redisStoreSuite } from '../../../test/support/redis-store-suite.js';
import { decodeBusMessage, encodeBusMessage } from '../bus/bus-codec.js';
import {
  ChannelPrefixError,
  redisChannel,
  roomChannel,
} from '../bus/channels.js';
import type { BusMessage } from '../bus/message-bus.js';
import {
  FRAME_TAIL,
  type AppendRequest,
  type Retention,
  type StoredMessage,
} from './history-store.js';
import { RedisHistoryStore } from './redis-history-store.js';

// Real Redis throughout: the shared one (each test under a prefix of its own, whose keys it
// deletes), and a private redis-server for the outage.

const RETENTION: Retention = { size: 1_000, ttlMs: 60_000 };
const UNAVAILABLE = /^Redis at 127\.0\.0\.1:\d+ is unavailable \(.+\)$/;

const frameHead = (room: string, from: string, data: unknown) =>
  `{"event":"message","data":{"room":${JSON.stringify(room)},"from":${JSON.stringify(from)},"data":${JSON.stringify(data)},"offset":`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectConsecutive(messages: StoredMessage[]): void {
  messages.forEach((m, i) => {
    if (i > 0) expect(m.offset).toBe(messages[i - 1].offset + 1);
  });
}

const redis = redisStoreSuite();

/** A store on the shared Redis under this test's prefix, closed after the test. */
async function store(
  options: Partial<{
    url: string;
    channelPrefix: string;
    instanceId: string;
  }> = {},
  wait = true,
): Promise<RedisHistoryStore> {
  const s = new RedisHistoryStore({
    url: SHARED_REDIS_URL,
    channelPrefix: redis.prefix,
    instanceId: 'i1',
    ...options,
  });
  return redis.opened(s, wait);
}

/** A plain subscriber on a room's bus channel, recording what it receives. */
const subscriber = (room: string, url?: string) =>
  redis.subscriber(roomChannel(room), url);

function request(
  room: string,
  text: string,
  retention = RETENTION,
): AppendRequest {
  return {
    room,
    frameHead: frameHead(room, 'c1', text),
    origin: 'i1',
    sentAt: 1_700_000_000_123,
    retention,
  };
}

async function appendAll(
  s: RedisHistoryStore,
  room: string,
  n: number,
  retention = RETENTION,
) {
  const out = [];
  for (let i = 1; i <= n; i++)
    out.push(await s.append(request(room, `m${i}`, retention)));
  return out;
}

describe('RedisHistoryStore', () => {
  it('assigns offsets 1..n without gaps, in one epoch, and completes each frame', async () => {
    const s = await store();
    const appended = await appendAll(s, 'lobby', 5);
    expect(appended.map((a) => a.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(appended.map((a) => a.epoch)).size).toBe(1);
    expect(appended[0].epoch).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(appended[2].frame).toBe(
      `${frameHead('lobby', 'c1', 'm3')}3${FRAME_TAIL}`,
    );
    expect(JSON.parse(appended[2].frame)).toEqual({
      event: 'message',
      data: { room: 'lobby', from: 'c1', data: 'm3', offset: 3 },
    });

    const read = await s.read({
      room: 'lobby',
      after: 0,
      limit: 100,
      retention: RETENTION,
    });
    expect(read).toEqual({
      epoch: appended[0].epoch,
      top: 5,
      messages: appended.map(({ offset, frame }) => ({ offset, frame })),
    });
  });

  it('keeps rooms and prefixes apart, whatever ":" and "/" the names hold', async () => {
    const a = await store();
    const otherPrefix = `${redis.prefix}x`;
    const b = await store({ channelPrefix: otherPrefix });
    try {
      await appendAll(a, 'a:b/c', 3);
      await appendAll(a, 'a', 1);
      expect((await a.append(request('a:b/c', 'x'))).offset).toBe(4);
      expect((await b.append(request('a:b/c', 'y'))).offset).toBe(1);
    } finally {
      await redis.deleteKeys(otherPrefix);
    }
  });

  it('starts a new epoch from offset 1 when the room keys are deleted', async () => {
    const s = await store();
    const [first] = await appendAll(s, 'lobby', 3);
    await redis.deleteKeys();

    const again = await s.append(request('lobby', 'after'));
    expect(again.offset).toBe(1);
    expect(again.epoch).not.toBe(first.epoch);
    const read = await s.read({
      room: 'lobby',
      after: 0,
      limit: 10,
      retention: RETENTION,
    });
    expect(read.epoch).toBe(again.epoch);
    expect(read.messages.map((m) => m.offset)).toEqual([1]);
  });

  it('treats a lost meta hash as a new life even while the old stream survives', async () => {
    const s = await store();
    const [first] = await appendAll(s, 'lobby', 3);
    await redis.admin.del(redisChannel(redis.prefix, 'history-meta:lobby'));

    // The read must not hand out the old life's entries under the new epoch...
    const read = await s.read({
      room: 'lobby',
      after: 0,
      limit: 10,
      retention: RETENTION,
    });
    expect(read.epoch).not.toBe(first.epoch);
    expect(read).toMatchObject({ top: 0, messages: [] });
    // ...and the new life's first append must not collide with the old entries' IDs.
    const next = await s.append(request('lobby', 'new'));
    expect(next).toMatchObject({ offset: 1, epoch: read.epoch });
  });

  it('continues the offsets in the same epoch when only the stream is lost', async () => {
    const s = await store();
    const [first] = await appendAll(s, 'lobby', 3);
    await redis.admin.del(redisChannel(redis.prefix, 'history:lobby'));

    const next = await s.append(request('lobby', 'four'));
    expect(next).toMatchObject({ offset: 4, epoch: first.epoch });
    const read = await s.read({
      room: 'lobby',
      after: 0,
      limit: 10,
      retention: RETENTION,
    });
    expect(read.top).toBe(4);
    expect(read.messages.map((m) => m.offset)).toEqual([4]);
  });

  it('gives a room that never had a stream an epoch that its first append keeps', async () => {
    const s = await store();
    const read = await s.read({
      room: 'empty',
      limit: 10,
      retention: RETENTION,
    });
    expect(read).toMatchObject({ top: 0, messages: [] });
    expect(read.epoch).toMatch(/^[A-Za-z0-9_-]{12}$/);
    // The meta hash is created with the retention's TTL, not forever.
    const ttl = await redis.admin.pttl(
      redisChannel(redis.prefix, 'history-meta:empty'),
    );
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(RETENTION.ttlMs);

    expect(
      (await s.read({ room: 'empty', limit: 10, retention: RETENTION })).epoch,
    ).toBe(read.epoch);
    expect(await s.append(request('empty', 'first'))).toMatchObject({
      offset: 1,
      epoch: read.epoch,
    });
  });

  it('trims to the retention size: a read after a trimmed offset starts at the oldest kept', async () => {
    const s = await store();
    const retention = { size: 5, ttlMs: 60_000 };
    await appendAll(s, 'lobby', 12, retention);
    expect(
      await redis.admin.xlen(redisChannel(redis.prefix, 'history:lobby')),
    ).toBe(5);

    const read = await s.read({
      room: 'lobby',
      after: 2,
      limit: 100,
      retention,
    });
    expect(read.top).toBe(12);
    expect(read.messages.map((m) => m.offset)).toEqual([8, 9, 10, 11, 12]);
    expect(read.messages[0].frame).toBe(
      `${frameHead('lobby', 'c1', 'm8')}8${FRAME_TAIL}`,
    );

    const partial = await s.read({
      room: 'lobby',
      after: 9,
      limit: 2,
      retention,
    });
    expect(partial.messages.map((m) => m.offset)).toEqual([10, 11]);
  });

  it('does not return messages older than ttlMs while the stream lives on', async () => {
    const s = await store();
    const retention = { size: 100, ttlMs: 600 };
    const [first] = await appendAll(s, 'lobby', 3, retention);
    // Each append keeps the stream alive another ttlMs; the first three age past it.
    await sleep(350);
    await appendAll(s, 'lobby', 1, retention);
    await sleep(350);
    await appendAll(s, 'lobby', 1, retention);

    const read = await s.read({
      room: 'lobby',
      after: 0,
      limit: 100,
      retention,
    });
    expect(read).toMatchObject({ epoch: first.epoch, top: 5 });
    expect(read.messages.map((m) => m.offset)).toEqual([4, 5]);
    const newest = await s.read({ room: 'lobby', limit: 5, retention });
    expect(newest.messages.map((m) => m.offset)).toEqual([4, 5]);
    // The same messages under a longer retention: the cut is the reader's ttlMs, not a trim.
    const longer = await s.read({
      room: 'lobby',
      after: 0,
      limit: 100,
      retention: { size: 100, ttlMs: 60_000 },
    });
    expect(longer.messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it('lets the whole stream expire ttlMs after its last message: then a new epoch', async () => {
    const s = await store();
    const retention = { size: 100, ttlMs: 200 };
    const [first] = await appendAll(s, 'lobby', 2, retention);
    const stream = redisChannel(redis.prefix, 'history:lobby');
    const meta = redisChannel(redis.prefix, 'history-meta:lobby');
    expect(await redis.admin.pttl(stream)).toBeLessThanOrEqual(200);
    await eventually(
      async () => (await redis.admin.exists(stream, meta)) === 0,
      'both keys to expire',
      3_000,
    );

    const next = await s.append(request('lobby', 'later', retention));
    expect(next.offset).toBe(1);
    expect(next.epoch).not.toBe(first.epoch);
  });

  it('reads the newest `limit` messages when `after` is omitted', async () => {
    const s = await store();
    await appendAll(s, 'lobby', 10);
    const newest = await s.read({
      room: 'lobby',
      limit: 3,
      retention: RETENTION,
    });
    expect(newest.top).toBe(10);
    expect(newest.messages.map((m) => m.offset)).toEqual([8, 9, 10]);
    expect(newest.messages[2].frame).toBe(
      `${frameHead('lobby', 'c1', 'm10')}10${FRAME_TAIL}`,
    );

    const all = await s.read({
      room: 'lobby',
      limit: 50,
      retention: RETENTION,
    });
    expect(all.messages.map((m) => m.offset)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expectConsecutive(all.messages);
  });

  it('reads the position only with limit 0, and nothing after the top', async () => {
    const s = await store();
    const [first] = await appendAll(s, 'lobby', 4);
    expect(
      await s.read({ room: 'lobby', limit: 0, retention: RETENTION }),
    ).toEqual({
      epoch: first.epoch,
      top: 4,
      messages: [],
    });
    expect(
      (
        await s.read({
          room: 'lobby',
          after: 1,
          limit: 0,
          retention: RETENTION,
        })
      ).messages,
    ).toEqual([]);
    expect(
      (
        await s.read({
          room: 'lobby',
          after: 4,
          limit: 10,
          retention: RETENTION,
        })
      ).messages,
    ).toEqual([]);
    // An offset from another life may lie beyond the top, however far.
    expect(
      (
        await s.read({
          room: 'lobby',
          after: Number.MAX_SAFE_INTEGER,
          limit: 10,
          retention: RETENTION,
        })
      ).messages,
    ).toEqual([]);
  });

  it('publishes each message on the room channel as the bus encodes it', async () => {
    const s = await store();
    const received = await subscriber('lobby');
    const withExcept = await s.append({
      ...request('lobby', 'hi'),
      exceptId: 'conn-7',
    });
    const without = await s.append({
      ...request('lobby', 'ho'),
      sentAt: 1_700_000_000_999.5,
    });
    expect(withExcept.receivers).toBe(1);
    await eventually(() => received.length === 2, 'both messages');

    const expected: BusMessage[] = [
      {
        origin: 'i1',
        exceptId: 'conn-7',
        sentAt: 1_700_000_000_123,
        frame: withExcept.frame,
        offset: 1,
        epoch: withExcept.epoch,
      },
      {
        origin: 'i1',
        sentAt: 1_700_000_000_999.5,
        frame: without.frame,
        offset: 2,
        epoch: without.epoch,
      },
    ];
    expect(received.map((raw) => decodeBusMessage(raw))).toEqual(expected);
    expect(received).toEqual(expected.map((m) => encodeBusMessage(m)));
  });

  it('counts the channel subscribers in `receivers`', async () => {
    const s = await store();
    expect((await s.append(request('lobby', 'nobody'))).receivers).toBe(0);
    await subscriber('lobby');
    await subscriber('lobby');
    await subscriber('elsewhere');
    expect((await s.append(request('lobby', 'two'))).receivers).toBe(2);
    // The appending instance's own subscriber is one of them when it listens on the room.
    expect(
      (await s.append({ ...request('lobby', 'one'), subscribed: true }))
        .receivers,
    ).toBe(1);
  });

  it('gives 100 concurrent appends from two instances offsets 1..100, delivered in order', async () => {
    const [a, b] = [
      await store({ instanceId: 'a' }),
      await store({ instanceId: 'b' }),
    ];
    const received = await subscriber('race');
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? a : b).append({
          ...request('race', `m${i}`),
          origin: i % 2 ? 'a' : 'b',
        }),
      ),
    );
    expect(results.map((r) => r.offset).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);

    await eventually(() => received.length === 100, 'all 100 messages');
    const decoded = received.map((raw) => decodeBusMessage(raw)!);
    expect(decoded.map((m) => m.offset)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // What each appender was told is what everyone received under that offset.
    const byOffset = new Map(results.map((r) => [r.offset, r.frame]));
    for (const m of decoded) expect(m.frame).toBe(byOffset.get(m.offset!));

    const read = await a.read({
      room: 'race',
      after: 0,
      limit: 100,
      retention: RETENTION,
    });
    expect(read.messages).toHaveLength(100);
    expectConsecutive(read.messages);
    expect(read.messages.map((m) => m.frame)).toEqual(
      decoded.map((m) => m.frame),
    );
  });

  it('refuses arguments it cannot store, without touching Redis', async () => {
    const s = await store();
    await expect(
      s.append(request('lobby', 'x', { size: 0, ttlMs: 1_000 })),
    ).rejects.toThrow(RangeError);
    await expect(
      s.append(request('lobby', 'x', { size: 10, ttlMs: 0 })),
    ).rejects.toThrow(RangeError);
    await expect(
      s.read({ room: 'lobby', limit: -1, retention: RETENTION }),
    ).rejects.toThrow(RangeError);
    await expect(
      s.read({ room: 'lobby', after: 1.5, limit: 1, retention: RETENTION }),
    ).rejects.toThrow(RangeError);
    expect(await redis.admin.keys(`${redis.prefix}|*`)).toEqual([]);
  });

  it('throws for a channel prefix with "|"', () => {
    expect(
      () =>
        new RedisHistoryStore({
          url: SHARED_REDIS_URL,
          channelPrefix: 'a|b',
          instanceId: 'i',
        }),
    ).toThrow(ChannelPrefixError);
  });

  it('rejects at once while Redis cannot be reached, without naming the password', async () => {
    const port = await freePort();
    const s = await store({ url: `redis://:s3cret@127.0.0.1:${port}` }, false);
    const started = Date.now();
    const failure = await s
      .append(request('lobby', 'x'))
      .catch((err: Error) => err);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(UNAVAILABLE);
    expect((failure as Error).message).not.toContain('s3cret');
    await expect(
      s.read({ room: 'lobby', limit: 1, retention: RETENTION }),
    ).rejects.toThrow(UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(s.isReady()).toBe(false);
    await eventually(
      () => redis.logged.some((line) => line.includes('Redis unreachable')),
      'the unreachable warning',
    );
    expect(redis.logged.join('\n')).not.toContain('s3cret');
  });

  it(
    'rejects within 2 s while its Redis is down, and works again once it is back',
    { timeout: 30_000 },
    async () => {
      const own = await OwnRedis.start();
      try {
        const s = await store({ url: own.url });
        const before = await s.append(request('lobby', 'before'));
        expect(before.offset).toBe(1);

        await own.stop();
        for (const attempt of [
          () => s.append(request('lobby', 'during')),
          () => s.read({ room: 'lobby', limit: 10, retention: RETENTION }),
        ]) {
          const started = Date.now();
          await expect(attempt()).rejects.toThrow(UNAVAILABLE);
          expect(Date.now() - started).toBeLessThan(2_500);
        }
        // A command can fail before the connection has seen the socket close.
        await eventually(() => !s.isReady(), 'the store to notice');
        expect(
          redis.logged.filter((l) => l.includes('Redis connection lost')),
        ).toHaveLength(1);

        await own.start();
        await eventually(() => s.isReady(), 'the store to reconnect', 10_000);
        // The restarted server has neither the data nor the scripts: a new life, via EVAL.
        const after = await s.append(request('lobby', 'after'));
        expect(after.offset).toBe(1);
        expect(after.epoch).not.toBe(before.epoch);
        const read = await s.read({
          room: 'lobby',
          limit: 10,
          retention: RETENTION,
        });
        expect(read).toMatchObject({ epoch: after.epoch, top: 1 });
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
      expect(await names()).toContain('gateway-history');

      await s.onApplicationShutdown();
      expect(s.isReady()).toBe(false);
      await eventually(
        async () => !(await names()).includes('gateway-history'),
        'the history connection to close',
      );
      expect(
        redis.logged.filter((l) => l.includes('Redis connection lost')),
      ).toEqual([]);
      await expect(s.append(request('lobby', 'late'))).rejects.toThrow(
        UNAVAILABLE,
      );
    } finally {
      watcher.disconnect();
      await own.stop();
    }
  });
});
