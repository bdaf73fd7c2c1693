import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import {
  MESSAGE_BUS,
  type MessageBus,
} from '../src/gateway/bus/message-bus.js';
import { eventually } from './support/eventually.js';
import { getJson } from './support/http.js';
import {
  applied,
  ids,
  PresencePeer,
  type ReceivedPush,
} from './support/presence-peer.js';
import {
  OwnRedis,
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { startApp, type RunningApp } from './support/start-app.js';

/** Waits until an instance's bus and stores are up (/readyz 200). */
const untilReady = (app: RunningApp) =>
  eventually(
    async () => (await getJson(app.httpUrl, '/readyz')).status === 200,
    'the instance to be ready',
  );

/** The default tick (PRESENCE_TICK_MS). */
const TICK_MS = 200;

/** `n` distinct static tokens: the i-th (from 0) is the principal `token-<i+1>`. */
const staticTokens = (n: number) => {
  const tag = randomBytes(4).toString('hex');
  return Array.from({ length: n }, (_, i) => `presence-${tag}-${i + 1}`);
};

/** A static token's principal. */
const subjectOf = (index: number) => `token-${index + 1}`;

type Listed = { id: string; info: unknown; connections: number };
const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
const sorted = (members: readonly Listed[] | undefined) =>
  [...(members ?? [])].sort(byId);

/** The members a subscriber's pushes named as left, in order. */
const leftIds = (pushes: readonly ReceivedPush[]) =>
  pushes.flatMap((p) => (p.data.left ?? []).map((m) => m.id));

describe('presence over two instances sharing one Redis (e2e)', () => {
  const tokens = staticTokens(4);
  const [ALICE, BOB, CAROL] = [0, 1, 2].map(subjectOf);
  const channelPrefix = uniqueChannelPrefix();
  let one: RunningApp;
  let two: RunningApp;
  let redis: Redis;
  const peers: PresencePeer[] = [];

  /** The presence channels some instance listens on. */
  const presenceChannels = async () =>
    (
      (await redis.pubsub(
        'CHANNELS',
        `${channelPrefix}|presence:*`,
      )) as string[]
    ).map((channel) => channel.slice(`${channelPrefix}|presence:`.length));

  /** Makes the instance's bus subscriptions to presence channels take 300 ms more. */
  function slowPresenceSubscriptions(app: RunningApp): () => void {
    const bus = app.app.get<MessageBus>(MESSAGE_BUS, { strict: false });
    const subscribe = bus.subscribe.bind(bus);
    bus.subscribe = async (channel, listener) => {
      if (channel.startsWith('presence:'))
        await new Promise((resolve) => setTimeout(resolve, 300));
      return subscribe(channel, listener);
    };
    return () => {
      bus.subscribe = subscribe;
    };
  }

  const on = async (app: RunningApp, index: number) => {
    const p = await PresencePeer.open(app.wsUrl, tokens[index]);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    const gateway = {
      auth: { tokens },
      redis: { url: SHARED_REDIS_URL, channelPrefix },
    };
    [one, two] = await Promise.all([
      startApp({ gateway }),
      startApp({ gateway }),
    ]);
    // Listening comes before Redis answers: a presence change published while an instance's
    // subscriber is still connecting would never reach it.
    await Promise.all([untilReady(one), untilReady(two)]);
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all([one.close(), two.close()]);
    await redis.quit();
  });
  afterEach(async () => {
    await Promise.all(peers.splice(0).map((p) => p.close()));
  });

  it('lists the members of both instances, with their connection counts, on either', async () => {
    const alice = await on(one, 0);
    const bob = await on(two, 1);
    await alice.call('join', { room: 'both' });
    await bob.call('join', { room: 'both' });
    const expected = [
      { id: ALICE, info: {}, connections: 1 },
      { id: BOB, info: {}, connections: 1 },
    ];
    for (const asker of [alice, bob]) {
      const reply = await asker.call<{ members: Listed[]; count: number }>(
        'presence',
        { room: 'both' },
      );
      expect(reply.count).toBe(2);
      expect(sorted(reply.members)).toEqual(expected);
      expect(
        await asker.call('presence', { room: 'both', countOnly: true }),
      ).toEqual({ room: 'both', count: 2 });
    }
    const carol = await on(two, 2);
    const joined = await carol.call<{
      presence: { members: Listed[]; count: number };
    }>('join', { room: 'both', presence: true });
    expect(joined.presence.count).toBe(3);
    expect(sorted(joined.presence.members)).toEqual([
      ...expected,
      { id: CAROL, info: {}, connections: 1 },
    ]);
  });

  it('two connections of one principal, one on each instance, are one member with 2 connections', async () => {
    const here = await on(one, 0);
    const there = await on(two, 0);
    await here.call('join', { room: 'twice' });
    await there.call('join', { room: 'twice' });
    for (const asker of [here, there])
      expect(await asker.call('presence', { room: 'twice' })).toEqual({
        room: 'twice',
        members: [{ id: ALICE, info: {}, connections: 2 }],
        count: 1,
      });
    await there.call('leave', { room: 'twice' });
    expect(await here.call('presence', { room: 'twice' })).toEqual({
      room: 'twice',
      members: [{ id: ALICE, info: {}, connections: 1 }],
      count: 1,
    });
  });

  it('diffs reach a subscriber on the other instance; a second connection joining or leaving sends none, the last one leaving does', async () => {
    const watcher = await on(two, 2);
    const aliceHere = await on(one, 0);
    const aliceThere = await on(two, 0);
    const bob = await on(one, 1);
    await watcher.call('join', { room: 'diffs', presence: true });

    await aliceHere.call('join', { room: 'diffs' });
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [{ id: ALICE, info: {} }],
      left: [],
    });
    // Alice's second connection, on the watcher's instance: no change of membership.
    await aliceThere.call('join', { room: 'diffs' });
    expect(await watcher.call('presence', { room: 'diffs' })).toMatchObject({
      count: 2,
    });
    await aliceThere.call('leave', { room: 'diffs' });
    await watcher.expectNoPush(3 * TICK_MS);

    await bob.call('join', { room: 'diffs' });
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [{ id: BOB, info: {} }],
      left: [],
    });
    // Her last connection (on the other instance) goes: she leaves.
    await aliceHere.close();
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [],
      left: [{ id: ALICE, info: {} }],
    });
    await bob.call('leave', { room: 'diffs' });
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [],
      left: [{ id: BOB, info: {} }],
    });

    // The other way round: a subscriber on the first instance hears of the second's members.
    const otherWatcher = await on(one, 1);
    await otherWatcher.call('join', { room: 'diffs-2', presence: true });
    await aliceThere.call('join', { room: 'diffs-2' });
    expect(await otherWatcher.nextPush()).toEqual({
      room: 'diffs-2',
      joined: [{ id: ALICE, info: {} }],
      left: [],
    });
  });

  it('a subscriber whose bus subscription is slow still hears of a member joining on the other instance right after its reply', async () => {
    // Redis answering the subscriber connection late (a busy Redis, a slow link): the join
    // reply must not come before the instance hears the room's changes, or a change made in
    // between reaches this subscriber never.
    const restore = slowPresenceSubscriptions(two);
    try {
      const watcher = await on(two, 2);
      const alice = await on(one, 0);
      const joined = await watcher.call<{ presence: { members: Listed[] } }>(
        'join',
        { room: 'slow', presence: true },
      );
      expect(ids(joined.presence.members)).toEqual([CAROL]);
      await alice.call('join', { room: 'slow' });
      expect(await watcher.nextPush()).toEqual({
        room: 'slow',
        joined: [{ id: ALICE, info: {} }],
        left: [],
      });
    } finally {
      restore();
    }
  });

  it('an instance listens on a room’s presence channel only while it has subscribers there, one that closed during its join included', async () => {
    const watcher = await on(two, 2);
    await watcher.call('join', { room: 'listen', presence: true });
    expect(await presenceChannels()).toContain('listen');
    await watcher.call('leave', { room: 'listen' });
    await eventually(
      async () => !(await presenceChannels()).includes('listen'),
      'the presence channel to be let go after the leave',
    );

    // A subscriber that closes while its join with presence is being answered.
    const restore = slowPresenceSubscriptions(two);
    try {
      const quitter = await on(two, 2);
      quitter.client.sendJson({
        event: 'join',
        data: { room: 'quit', presence: true },
        id: 'q',
      });
      // Gone while the instance subscribes (300 ms).
      await new Promise((resolve) => setTimeout(resolve, 100));
      await quitter.close();
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      restore();
    }
    await eventually(
      async () => !(await presenceChannels()).includes('quit'),
      'the presence channel of a subscriber gone during its join to be let go',
      2_000,
    );
  });
});

describe('presence when an instance is SIGKILLed (e2e, the built service)', () => {
  const TTL_MS = 1_500;
  const tokens = staticTokens(4);
  const [ALICE, BOB, CAROL, DAVE] = [0, 1, 2, 3].map(subjectOf);
  let a: SpawnedGateway;
  let b: SpawnedGateway;
  const peers: PresencePeer[] = [];

  beforeAll(async () => {
    const env = {
      AUTH_TOKENS: tokens.join(','),
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_CHANNEL_PREFIX: uniqueChannelPrefix(),
      PRESENCE_TTL_MS: String(TTL_MS),
      SHUTDOWN_DRAIN_MS: '500',
    };
    [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await Promise.all([a.stop('SIGKILL'), b.stop()]);
  });

  const on = async (gateway: SpawnedGateway, index: number) => {
    const p = await PresencePeer.open(
      `ws://127.0.0.1:${gateway.port}/`,
      tokens[index],
    );
    peers.push(p);
    return p;
  };

  it(`the members of a killed instance leave within PRESENCE_TTL_MS + a heartbeat (ttl/3) + a tick, not before ttl/2 (ttl ${TTL_MS} ms)`, async () => {
    const alice = await on(a, 0);
    const bob = await on(a, 1);
    const watcher = await on(b, 2);
    // Dave has a connection on each: he stays, with one.
    const daveOnA = await on(a, 3);
    const daveOnB = await on(b, 3);
    await alice.call('join', { room: 'doomed' });
    await bob.call('join', { room: 'doomed' });
    await daveOnA.call('join', { room: 'doomed' });
    await daveOnB.call('join', { room: 'doomed' });
    const joined = await watcher.call<{
      presence: { members: Listed[]; count: number };
    }>('join', { room: 'doomed', presence: true });
    expect(sorted(joined.presence.members)).toEqual([
      { id: ALICE, info: {}, connections: 1 },
      { id: BOB, info: {}, connections: 1 },
      { id: CAROL, info: {}, connections: 1 },
      { id: DAVE, info: {}, connections: 2 },
    ]);
    // A few heartbeats, so that the parts have been refreshed since they were written.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS));
    expect(watcher.pushes).toEqual([]);

    const killed = Date.now();
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    await watcher.waitFor(
      (pushes) => leftIds(pushes).length >= 2,
      'alice and bob to leave',
      3 * TTL_MS,
    );
    const elapsed = watcher.pushes.at(-1)!.at - killed;
    const bound = TTL_MS + TTL_MS / 3 + TICK_MS;
    console.log(
      `presence: SIGKILL to left in ${elapsed} ms (ttl ${TTL_MS} ms, bound ${bound} ms)`,
    );
    expect(leftIds(watcher.pushes).sort()).toEqual([ALICE, BOB]);
    expect(watcher.pushes.flatMap((p) => p.data.joined ?? [])).toEqual([]);
    // Not a close seen by anyone: the expiry of the dead instance's part.
    expect(elapsed).toBeGreaterThanOrEqual(TTL_MS / 2);
    // Timers on a busy machine: half a ttl of slack over the stated bound (the keys themselves
    // live 3 ttls: a sweep that missed the parts' expiry would come far later).
    expect(elapsed).toBeLessThanOrEqual(bound + TTL_MS / 2);
    await watcher.expectNoPush(2 * TICK_MS);
    expect(leftIds(watcher.pushes)).not.toContain(DAVE);
    const after = await watcher.call<{ members: Listed[]; count: number }>(
      'presence',
      { room: 'doomed' },
    );
    expect(after.count).toBe(2);
    expect(sorted(after.members)).toEqual([
      { id: CAROL, info: {}, connections: 1 },
      { id: DAVE, info: {}, connections: 1 },
    ]);
  });
});

describe('presence while its Redis is away (e2e)', () => {
  const TTL_MS = 1_500;
  const tokens = staticTokens(5);
  const [ALICE, BOB, CAROL, , ERIN] = [0, 1, 2, 3, 4].map(subjectOf);
  let redis: OwnRedis;
  let one: RunningApp;
  let two: RunningApp;
  const peers: PresencePeer[] = [];

  const on = async (app: RunningApp, index: number) => {
    const p = await PresencePeer.open(app.wsUrl, tokens[index]);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    redis = await OwnRedis.start();
    const gateway = {
      auth: { tokens },
      redis: { url: redis.url, channelPrefix: uniqueChannelPrefix() },
      // Rooms without history: joining them does not need Redis.
      history: { size: 0 },
      presence: { ttlMs: TTL_MS },
    };
    [one, two] = await Promise.all([
      startApp({ gateway }),
      startApp({ gateway }),
    ]);
    // Listening comes before Redis answers: a presence change published while an instance's
    // subscriber is still connecting would never reach it.
    await Promise.all([untilReady(one), untilReady(two)]);
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await Promise.all([one.close(), two.close()]);
    await redis.stop();
  });

  it('answers UNAVAILABLE, joins without presence, keeps serving, and rebuilds presence within a few ttl thirds once Redis is back', async () => {
    const alice = await on(one, 0);
    const bob = await on(two, 1);
    await alice.call('join', { room: 'ops', presence: true });
    await bob.call('join', { room: 'ops' });
    await alice.waitFor(
      (pushes) => applied([{ id: ALICE }], pushes).length === 2,
      'bob to join',
    );

    await redis.stop();
    await eventually(
      async () => (await getJson(one.httpUrl, '/readyz')).status === 503,
      'readiness to turn 503',
    );
    expect(await alice.request('presence', { room: 'ops' })).toMatchObject({
      event: 'error',
      data: {
        code: 'UNAVAILABLE',
        message: 'the presence of room "ops" cannot be reached',
      },
    });
    // Carol joins during the outage: joined, but without presence.
    const carol = await on(two, 2);
    const joined = await carol.request('join', { room: 'ops', presence: true });
    expect(joined).toMatchObject({
      event: 'join',
      data: {
        room: 'ops',
        presence: {
          error: {
            code: 'UNAVAILABLE',
            message: 'the presence of room "ops" cannot be reached',
          },
        },
      },
    });
    // The instances go on serving their clients.
    expect(await alice.call('echo', 'still here')).toBe('still here');
    expect(await carol.call('echo', 'me too')).toBe('me too');
    // A heartbeat or two fails while Redis is away; nothing crashes.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 3 + 100));
    expect(await bob.call('echo', 'alive')).toBe('alive');

    await redis.start();
    const back = Date.now();
    await eventually(
      async () => {
        const reply = await alice.request('presence', { room: 'ops' });
        return (
          reply.event === 'presence' &&
          ids((reply.data as { members: Listed[] }).members).join() ===
            [ALICE, BOB, CAROL].join()
        );
      },
      'the members to be announced again',
      // Reconnection backoff (at most 2 s) and then a few heartbeats (ttl/3 each).
      2_000 + 4 * (TTL_MS / 3),
    );
    const rebuilt = Date.now() - back;
    console.log(`presence: rebuilt ${rebuilt} ms after Redis came back`);
    expect(await bob.call('presence', { room: 'ops' })).toMatchObject({
      count: 3,
    });
    // Alice, subscribed before the outage, hears of carol once her instance announces her.
    await alice.waitFor(
      (pushes) =>
        applied([{ id: ALICE }], pushes).join() === [ALICE, BOB, CAROL].join(),
      'carol to join in the subscriber’s list',
      2_000 + 4 * (TTL_MS / 3),
    );
    // Presence works again for a new subscriber.
    const dave = await on(one, 3);
    const late = await dave.call<{ presence: { count: number } }>('join', {
      room: 'ops',
      presence: true,
    });
    expect(late.presence.count).toBe(4);
  });

  it('a member that leaves while Redis is away leaves the lists of subscribers too once it is back', async () => {
    const alice = await on(one, 0);
    const bob = await on(two, 1);
    const erin = await on(two, 4);
    await alice.call('join', { room: 'gone', presence: true });
    await bob.call('join', { room: 'gone' });
    await erin.call('join', { room: 'gone' });
    await alice.waitFor(
      (pushes) => applied([{ id: ALICE }], pushes).length === 3,
      'bob and erin to join',
    );

    await redis.stop();
    await eventually(
      async () => (await getJson(two.httpUrl, '/readyz')).status === 503,
      'readiness to turn 503',
    );
    // Bob goes while his instance cannot tell the store; a heartbeat fails meanwhile.
    await bob.close();
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 3 + 100));

    // Redis comes back empty: the instances announce who they have, and bob is not among them.
    await redis.start();
    const back = Date.now();
    const within = 2_000 + 4 * (TTL_MS / 3);
    await eventually(
      async () => {
        const reply = await alice.request('presence', { room: 'gone' });
        return (
          reply.event === 'presence' &&
          ids((reply.data as { members: Listed[] }).members).join() ===
            [ALICE, ERIN].join()
        );
      },
      'the store to list alice and erin',
      within,
    );
    // The subscriber's list, made of the join reply and the diffs since, converges to it.
    await alice.waitFor(
      (pushes) =>
        applied([{ id: ALICE }], pushes).join() === [ALICE, ERIN].join(),
      'bob to leave the subscriber’s list',
      within,
    );
    console.log(
      `presence: a leave during the outage reached the subscriber ${Date.now() - back} ms after Redis came back`,
    );
    expect(
      alice.pushes.flatMap((p) => (p.data.left ?? []).map((m) => m.id)),
    ).toContain(BOB);
  });
});
