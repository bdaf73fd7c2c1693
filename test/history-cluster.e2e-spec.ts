import { Redis } from 'ioredis';
import { GatewayClient, type RoomRecovery } from '../src/client/index.js';
import { nextEvent } from './support/client-events.js';
import { eventually } from './support/eventually.js';
import { getJson } from './support/http.js';
import { sample, scrapeMetrics } from './support/metrics.js';
import {
  OwnRedis,
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import {
  asMessages,
  expectRun,
  FAST_RECONNECT,
  joinSince,
  nextMessages,
  publishMany,
  requestCollecting,
  type Position,
  type Pushed,
  WAIT,
} from './support/room-stream.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { TcpRelay } from './support/tcp-relay.js';
import { connect, type TestClient } from './support/ws-client.js';

/** What a GatewayClient's app saw: its `message` handler, its `recovery` events, and the raw pushes. */
interface Recorded {
  /** What the app's `message` handler was given. */
  seen: Pushed[];
  recoveries: RoomRecovery[];
  /** Every `message` frame that reached the client, before its own ordering: what the server sent. */
  frames: Pushed[];
}

function record(client: GatewayClient): Recorded {
  const recorded: Recorded = { seen: [], recoveries: [], frames: [] };
  client.onPush('message', (data) =>
    recorded.seen.push(data as unknown as Pushed),
  );
  client.on('recovery', (recovery) => recorded.recoveries.push(recovery));
  client.on('frame', (text) => {
    const frame = JSON.parse(text) as {
      event: string;
      id?: unknown;
      data: Pushed;
    };
    if (frame.event === 'message' && frame.id === undefined)
      recorded.frames.push(frame.data);
  });
  return recorded;
}

/**
 * Waits until an instance is ready (/readyz: its bus and its stores are up) and its history
 * store answers a read.
 */
async function ready(port: number): Promise<void> {
  await eventually(
    async () =>
      (await getJson(`http://127.0.0.1:${port}`, '/readyz')).status === 200,
    `the instance on port ${port} to be ready`,
    10_000,
  );
  const probe = await connect(`ws://127.0.0.1:${port}/`, { token: TEST_TOKEN });
  try {
    await eventually(
      async () =>
        (await probe.request('history', { room: 'probe/ready', limit: 1 }))
          .event === 'history',
      `the history store on port ${port} to answer`,
      10_000,
    );
  } finally {
    await probe.close();
  }
}

/** Deletes every key under a channel prefix of the shared Redis. */
async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix}*`,
      'COUNT',
      1000,
    );
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describe('history across two spawned gateways sharing Redis (e2e)', () => {
  const channelPrefix = uniqueChannelPrefix();
  const ENV = {
    AUTH_TOKENS: TEST_TOKEN,
    REDIS_URL: SHARED_REDIS_URL,
    REDIS_CHANNEL_PREFIX: channelPrefix,
    // 1,000 publishes at once: far over the default rate limit.
    RATE_LIMIT_PER_SEC: '100000',
    RATE_LIMIT_BURST: '100000',
    SHUTDOWN_DRAIN_MS: '1000',
  };
  let a: SpawnedGateway;
  /** The next A, started as soon as a test has killed the last one (a spawn takes seconds). */
  let nextA: Promise<SpawnedGateway> | undefined;
  let b: SpawnedGateway;
  /** The load balancer in front: new connections go where the test points it (A by default). */
  let relay: TcpRelay;
  const raw: TestClient[] = [];
  const clients: GatewayClient[] = [];

  const start = async () => {
    const gateway = await spawnGateway(ENV);
    await ready(gateway.port);
    return gateway;
  };
  const urlOf = (gateway: SpawnedGateway) => `ws://127.0.0.1:${gateway.port}/`;
  const alive = (gateway: SpawnedGateway) =>
    gateway.child.exitCode === null && gateway.child.signalCode === null;
  const on = async (gateway: SpawnedGateway) => {
    const client = await connect(urlOf(gateway), { token: TEST_TOKEN });
    raw.push(client);
    return client;
  };
  const newClient = (url: string) => {
    const client = new GatewayClient({
      url,
      token: TEST_TOKEN,
      reconnect: FAST_RECONNECT,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([start(), start()]);
    relay = await TcpRelay.start(a.port);
  });
  beforeEach(async () => {
    // A test that killed A leaves the next one a fresh A.
    if (!alive(a)) a = await (nextA ?? start());
    nextA = undefined;
    relay.retarget(a.port);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(raw.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await relay?.close();
    const spare = await nextA?.catch(() => undefined);
    await Promise.all(
      [a, b, spare]
        .filter((g): g is SpawnedGateway => g !== undefined)
        .map((g) => g.stop('SIGKILL')),
    );
    const redis = new Redis(SHARED_REDIS_URL);
    try {
      await deleteKeys(redis, channelPrefix);
    } finally {
      await redis.quit();
    }
  });

  it('SIGKILL of A: raw clients that were on A get the 1,000 messages published on B meanwhile, with join since and with resume, exactly once and in order, then the live ones', async () => {
    const room = 'kill/raw';
    const publisher = await on(b);
    const viaJoin = await on(a);
    const viaResume = await on(a);
    const joined = await viaJoin.request('join', { room }, 'j');
    const { epoch } = joined.data as Position;
    expect(joined.data).toEqual({ room, offset: 0, epoch });
    await viaResume.request('join', { room }, 'j');
    await publishMany(publisher, room, 5);
    for (const client of [viaJoin, viaResume])
      expectRun(await nextMessages(client, 5), room, 1, 0);

    await a.stop('SIGKILL');
    nextA = start();
    // Awaited by the next test; marked handled here in case none comes.
    nextA.catch(() => undefined);
    expect((await viaJoin.closed).code).toBe(1006);
    expect((await viaResume.closed).code).toBe(1006);

    const missed = await publishMany(publisher, room, 1000, 5);
    expect(missed.epoch).toBe(epoch);
    expect(missed.offsets).toEqual(
      Array.from({ length: 1000 }, (_, i) => 6 + i),
    );

    const [joinOnB, resumeOnB] = [await on(b), await on(b)];
    const since = { offset: 5, epoch };
    const [byJoin, byResume] = await Promise.all([
      requestCollecting(joinOnB, 'join', { room, since }, 'since'),
      requestCollecting(
        resumeOnB,
        'resume',
        { rooms: [{ room, since }] },
        'resume',
      ),
    ]);
    const top = { offset: 1005, epoch };
    expect(byJoin.reply).toEqual({
      event: 'join',
      id: 'since',
      data: { room, ...top, recovered: true },
    });
    expect(byResume.reply).toEqual({
      event: 'resume',
      id: 'resume',
      data: { rooms: [{ room, ...top, recovered: true }] },
    });
    for (const { before } of [byJoin, byResume]) {
      expect(before).toHaveLength(1000);
      expectRun(asMessages(before), room, 6, 5);
    }

    await publishMany(publisher, room, 2, 1005);
    for (const client of [joinOnB, resumeOnB]) {
      expectRun(await nextMessages(client, 2), room, 1006, 1005);
      await client.expectSilence(150);
    }
  });

  it('SIGKILL of A: a GatewayClient reconnects through the balancer to B, whose resume replays the 1,000 missed messages once and in order, then the live ones', async () => {
    const room = 'kill/client';
    const client = newClient(relay.url);
    const recorded = record(client);
    await client.connect();
    const { epoch } = (await client.join(room)) as Position;
    const publisher = await on(b);
    await publishMany(publisher, room, 5);
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(5), WAIT);

    // A dies; the balancer has nowhere to send the client until it points at B.
    relay.retarget(undefined);
    const closed = nextEvent(client, 'close');
    await a.stop('SIGKILL');
    nextA = start();
    // Awaited by the next test; marked handled here in case none comes.
    nextA.catch(() => undefined);
    expect(await closed).toMatchObject({ code: 1006, willReconnect: true });
    await publishMany(publisher, room, 1000, 5);

    const reconnected = nextEvent(client, 'reconnected', 10_000);
    relay.retarget(b.port);
    expect(await reconnected).toMatchObject({
      rooms: [room],
      failedRooms: [],
    });
    // The replay came before `reconnected`.
    expect(recorded.recoveries).toEqual([
      { room, recovered: true, position: { offset: 1005, epoch } },
    ]);
    expect(recorded.seen).toHaveLength(1005);
    expectRun(recorded.seen, room, 1, 0);

    await publishMany(publisher, room, 3, 1005);
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(1008), WAIT);
    expectRun(recorded.seen, room, 1, 0);
    // The server sent each message once: the client had no duplicate to drop.
    expectRun(recorded.frames, room, 1, 0);
    expect(client.position(room)).toEqual({ offset: 1008, epoch });
    expect(recorded.recoveries).toHaveLength(1);
  });

  it('SIGTERM of A: a raw client resumes on B and a GatewayClient through the balancer on A restarted; both get the 1,000 published meanwhile, once and in order', async () => {
    const room = 'term/both';
    const client = newClient(relay.url);
    const recorded = record(client);
    await client.connect();
    const { epoch } = (await client.join(room)) as Position;
    const member = await on(a);
    await member.request('join', { room }, 'j');
    const publisher = await on(b);
    await publishMany(publisher, room, 5);
    expectRun(await nextMessages(member, 5), room, 1, 0);
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(5), WAIT);

    // The balancer takes A out of rotation as it drains (its /readyz turns 503).
    relay.retarget(undefined);
    const closed = nextEvent(client, 'close');
    // All awaited before any assertion: a failing test must not leave the next one a dying A.
    const [exitCode, memberClosed, clientClosed] = await Promise.all([
      a.stop('SIGTERM'),
      member.closed,
      closed,
    ]);
    expect(exitCode).toBe(0);
    expect(memberClosed.code).toBe(1001);
    expect(clientClosed).toMatchObject({ code: 1001, willReconnect: true });

    await publishMany(publisher, room, 1000, 5);

    const onB = await on(b);
    const resumed = await requestCollecting(
      onB,
      'resume',
      { rooms: [{ room, since: { offset: 5, epoch } }] },
      'r',
    );
    expect(resumed.reply.data).toEqual({
      rooms: [{ room, offset: 1005, epoch, recovered: true }],
    });
    expect(resumed.before).toHaveLength(1000);
    expectRun(asMessages(resumed.before), room, 6, 5);

    // A again (the balancer's address is the client's, so any port); back in rotation once
    // ready, its bus and history store up.
    a = await start();
    const reconnected = nextEvent(client, 'reconnected', 10_000);
    relay.retarget(a.port);
    expect(await reconnected).toMatchObject({ rooms: [room], failedRooms: [] });
    expect(recorded.recoveries).toEqual([
      { room, recovered: true, position: { offset: 1005, epoch } },
    ]);
    expectRun(recorded.seen, room, 1, 0);
    expect(recorded.seen).toHaveLength(1005);

    await publishMany(publisher, room, 2, 1005);
    expectRun(await nextMessages(onB, 2), room, 1006, 1005);
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(1007), WAIT);
    expectRun(recorded.seen, room, 1, 0);
    expectRun(recorded.frames, room, 1, 0);
  });

  it.each(['cold', 'warm'] as const)(
    'clients on A recovering 300 messages while B keeps publishing get every message once and in order; plain joiners none before their position (%s room on A)',
    async (mode) => {
      const room = `race/${mode}`;
      const publisher = await on(b);
      // Warm: A keeps a member, so it stays subscribed and its sequencer runs throughout.
      const steady = mode === 'warm' ? await on(a) : undefined;
      if (steady) await steady.request('join', { room }, 's');
      const gone = [await on(a), await on(a)];
      let epoch = '';
      for (const client of gone)
        ({ epoch } = (await client.request('join', { room }, 'j'))
          .data as Position);
      await publishMany(publisher, room, 2);
      for (const client of gone)
        expectRun(await nextMessages(client, 2), room, 1, 0);
      await Promise.all(gone.map((c) => c.close()));
      await publishMany(publisher, room, 300, 2);

      // B publishes in batches of 10 until every join has been answered, and 5 batches more.
      const kinds = ['since', 'resume', 'plain'] as const;
      const joiners = await Promise.all(
        [...kinds, ...kinds].map(async (kind) => ({
          kind,
          client: await on(a),
        })),
      );
      let seq = 302;
      let answered = 0;
      let started!: () => void;
      const firstBatch = new Promise<void>((resolve) => (started = resolve));
      const publishing = (async () => {
        for (let after = 0; after < 5;) {
          await publishMany(publisher, room, 10, seq);
          seq += 10;
          started();
          if (answered === joiners.length) after++;
        }
      })();
      await firstBatch;
      const since = { offset: 2, epoch };
      const replies = await Promise.all(
        joiners.map(async ({ kind, client }) => {
          const result = await (kind === 'resume'
            ? requestCollecting(
                client,
                'resume',
                { rooms: [{ room, since }] },
                'r',
              )
            : requestCollecting(
                client,
                'join',
                kind === 'since' ? { room, since } : { room },
                'r',
              ));
          answered++;
          return result;
        }),
      );
      await publishing;
      const top = seq; // seq n was given offset n + 1
      for (const [i, { kind, client }] of joiners.entries()) {
        const { before, reply } = replies[i];
        const position =
          kind === 'resume'
            ? (
                reply.data as {
                  rooms: Array<Position & { recovered?: boolean }>;
                }
              ).rooms[0]
            : (reply.data as Position & { recovered?: boolean });
        expect(position).toMatchObject({ room, epoch });
        const early = asMessages(before);
        // Recovered: every message after `since`; a plain join: every one after its position.
        const first = kind === 'plain' ? position.offset + 1 : 3;
        if (kind !== 'plain') {
          expect(position.recovered).toBe(true);
          // The replayed ones, up to the reply's position, all came before the reply.
          expect(early.length).toBeGreaterThanOrEqual(position.offset - 2);
        }
        const rest = await nextMessages(
          client,
          top - (first - 1) - early.length,
        );
        const all = [...early, ...rest];
        expectRun(all, room, first, first - 1);
        expect(all.at(-1)!.offset).toBe(top);
        await client.expectSilence(100);
      }
      if (steady) {
        expectRun(await nextMessages(steady, top), room, 1, 0);
        await steady.expectSilence(100);
      }
    },
  );

  it("a GatewayClient publishing to its room as others do sees only their messages, once and in order, and no recovery but the reconnection's", async () => {
    const room = 'own/mixed';
    const client = newClient(relay.url);
    const recorded = record(client);
    await client.connect();
    const { epoch } = (await client.join(room)) as Position;
    const other = await on(b);
    const mine = (count: number, first: number) =>
      Array.from({ length: count }, (_, i) =>
        client.publish(room, { seq: 1000 + first + i }),
      );

    // Both publish at once, interleaved in the stream.
    const [receipts, theirs] = await Promise.all([
      Promise.all(mine(30, 0)),
      publishMany(other, room, 30),
    ]);
    expect(
      [...receipts.map((r) => r.offset), ...theirs.offsets].sort(
        (x, y) => x! - y!,
      ),
    ).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await vi.waitFor(
      () => expect(client.position(room)?.offset).toBe(60),
      WAIT,
    );
    expect(recorded.seen.map((p) => p.data.seq)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    expect(recorded.seen.map((p) => p.offset)).toEqual(theirs.offsets);
    expect(recorded.recoveries).toEqual([]);

    // Cut off in the middle of a burst of theirs: the client has the replies of its own
    // publishes but maybe not every message of theirs before them, so its resume replays its
    // own too (the server cannot leave them out), and those must not reach the app.
    const burst = publishMany(other, room, 200, 30);
    const ownBeforeCut = await Promise.all(mine(10, 30));
    relay.retarget(undefined);
    const closed = nextEvent(client, 'close');
    relay.cut();
    await closed;
    const missed = await burst;
    // While it is away its publishes wait in its queue.
    const queued = mine(5, 40);
    const reconnected = nextEvent(client, 'reconnected', 10_000);
    relay.retarget(a.port);
    await reconnected;
    const queuedReceipts = await Promise.all(queued);
    expect(recorded.recoveries).toEqual([
      { room, recovered: true, position: { offset: 270, epoch } },
    ]);

    // And once more both at once, live.
    const [lastReceipts, last] = await Promise.all([
      Promise.all(mine(20, 45)),
      publishMany(other, room, 20, 230),
    ]);
    const top = 270 + 5 + 40;
    await vi.waitFor(
      () => expect(client.position(room)?.offset).toBe(top),
      WAIT,
    );
    expect(recorded.seen.map((p) => p.data.seq)).toEqual(
      Array.from({ length: 250 }, (_, i) => i),
    );
    expect(recorded.seen.map((p) => p.offset)).toEqual([
      ...theirs.offsets,
      ...missed.offsets,
      ...last.offsets,
    ]);
    // Every offset up to the top is one of theirs (delivered) or one of its own (skipped).
    const own = [
      ...receipts,
      ...ownBeforeCut,
      ...queuedReceipts,
      ...lastReceipts,
    ].map((r) => r.offset!);
    expect(
      [...own, ...recorded.seen.map((p) => p.offset)].sort((x, y) => x - y),
    ).toEqual(Array.from({ length: top }, (_, i) => i + 1));
    expect(recorded.recoveries).toHaveLength(1);
    // Live, the server never pushed the client its own messages: only a replay may hold them.
    const replayedOwn = recorded.frames.filter((p) => p.data.seq >= 1000);
    expect(
      replayedOwn.every((p) => ownBeforeCut.some((r) => r.offset === p.offset)),
    ).toBe(true);
  });
});

describe('history when Redis is lost, restarted or flushed (e2e)', () => {
  let redis: OwnRedis;
  let one: RunningApp;
  let two: RunningApp;
  const raw: TestClient[] = [];
  const clients: GatewayClient[] = [];
  const relays: TcpRelay[] = [];

  const on = async (app: RunningApp) => {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    raw.push(client);
    return client;
  };
  beforeAll(async () => {
    // Kept on disk, as Redis with appendonly does: a restart comes back with the history.
    redis = await OwnRedis.start(undefined, { persistent: true });
    const gateway = {
      redis: { url: redis.url, channelPrefix: uniqueChannelPrefix() },
      rateLimit: { perSecond: 100_000, burst: 100_000 },
      history: {
        // small/ keeps 10 messages, brief/ keeps them 1 s.
        retention: (room: string) =>
          room.startsWith('small/')
            ? { size: 10 }
            : room.startsWith('brief/')
              ? { ttlMs: 1_000 }
              : undefined,
      },
    };
    [one, two] = await Promise.all([
      startApp({ gateway }),
      startApp({ gateway }),
    ]);
    await Promise.all([ready(one.port), ready(two.port)]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await Promise.all(raw.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await redis?.dispose();
  });

  it('a position older than the kept window (10) after 50 missed: recovered:false, the current position, none of them', async () => {
    const room = 'small/window';
    const member = await on(one);
    const { epoch } = (await member.request('join', { room }, 'j'))
      .data as Position;
    await member.close();
    const publisher = await on(two);
    await publishMany(publisher, room, 50);

    const back = await on(one);
    const { before, reply } = await requestCollecting(
      back,
      'resume',
      { rooms: [{ room, since: { offset: 0, epoch } }] },
      'r',
    );
    expect(before).toEqual([]);
    expect(reply.data).toEqual({
      rooms: [{ room, offset: 50, epoch, recovered: false }],
    });
    await back.expectSilence(200);
    await publishMany(publisher, room, 1, 50);
    expectRun(await nextMessages(back, 1), room, 51, 50);
  });

  it('messages older than the TTL are not recovered though their stream lives on; the younger ones are', async () => {
    const room = 'brief/age';
    const publisher = await on(two);
    const { epoch } = await publishMany(publisher, room, 3);
    // The second batch comes before the stream's TTL runs out, so the stream lives on...
    await new Promise((resolve) => setTimeout(resolve, 700));
    await publishMany(publisher, room, 3, 3);
    // ...and now 1..3 are over 1 s old (by Redis's clock), 4..6 about 400 ms.
    await new Promise((resolve) => setTimeout(resolve, 400));
    const back = await on(one);
    const old = await joinSince(back, room, { offset: 0, epoch }, 'old');
    expect(old.before).toEqual([]);
    expect(old.reply.data).toEqual({
      room,
      offset: 6,
      epoch,
      recovered: false,
    });
    const young = await joinSince(
      await on(two),
      room,
      { offset: 3, epoch },
      'young',
    );
    expect(young.reply.data).toEqual({
      room,
      offset: 6,
      epoch,
      recovered: true,
    });
    expectRun(asMessages(young.before), room, 4, 3);
  });

  it('a flushed Redis starts a new epoch: an old position is recovered:false, and live delivery goes on from offset 1', async () => {
    const room = 'flush/r';
    const publisher = await on(two);
    const live = await on(one);
    const member = await on(one);
    const { epoch } = (await live.request('join', { room }, 'j'))
      .data as Position;
    await member.request('join', { room }, 'j');
    await publishMany(publisher, room, 5);
    expectRun(await nextMessages(live, 5), room, 1, 0);
    expectRun(await nextMessages(member, 5), room, 1, 0);
    await member.close();

    const admin = new Redis(redis.url);
    try {
      await admin.flushall();
    } finally {
      await admin.quit();
    }

    const back = await on(one);
    const { before, reply } = await joinSince(
      back,
      room,
      { offset: 5, epoch },
      'since',
    );
    expect(before).toEqual([]);
    const fresh = reply.data as Position & { recovered: boolean };
    expect(fresh).toEqual({
      room,
      offset: 0,
      epoch: expect.any(String),
      recovered: false,
    });
    expect(fresh.epoch).not.toBe(epoch);

    const after = await publishMany(publisher, room, 3, 5);
    expect(after).toEqual({ offsets: [1, 2, 3], epoch: fresh.epoch });
    // The member that stayed through the flush, and the one that came back: offsets from 1.
    expectRun(await nextMessages(live, 3), room, 1, 5);
    expectRun(await nextMessages(back, 3), room, 1, 5);

    // An old position on the other instance: not recovered either, the new epoch's top.
    const elsewhere = await on(two);
    const resumed = await requestCollecting(
      elsewhere,
      'resume',
      { rooms: [{ room, since: { offset: 5, epoch } }] },
      'r',
    );
    expect(resumed.before).toEqual([]);
    expect(resumed.reply.data).toEqual({
      rooms: [{ room, offset: 3, epoch: fresh.epoch, recovered: false }],
    });
  });

  it('Redis down: join since and resume answer UNAVAILABLE, never a recovery; Redis back with its data: the same resume recovers', async () => {
    const room = 'outage/r';
    const warm = 'outage/warm';
    const publisher = await on(two);
    const member = await on(one);
    // A stays in `warm` throughout: its stream is started when Redis goes.
    const stayer = await on(one);
    await stayer.request('join', { room: warm }, 'w');
    const { epoch } = (await member.request('join', { room }, 'j'))
      .data as Position;
    const warmAt = await member.request('join', { room: warm }, 'jw');
    const warmEpoch = (warmAt.data as Position).epoch;
    // And a GatewayClient in `room`, behind a relay that the test cuts.
    const relay = await TcpRelay.start(one.port);
    const client = new GatewayClient({
      url: relay.url,
      token: TEST_TOKEN,
      reconnect: FAST_RECONNECT,
    });
    clients.push(client);
    relays.push(relay);
    const recorded = record(client);
    await client.connect();
    await client.join(room);
    await publishMany(publisher, room, 5);
    await publishMany(publisher, warm, 5);
    expect(await nextMessages(member, 10)).toHaveLength(10);
    expect(await nextMessages(stayer, 5)).toHaveLength(5);
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(5), WAIT);
    relay.retarget(undefined);
    const closed = nextEvent(client, 'close');
    relay.cut();
    await closed;
    await member.close();
    await publishMany(publisher, room, 10, 5);
    await publishMany(publisher, warm, 10, 5);
    expect(await nextMessages(stayer, 10)).toHaveLength(10);

    await redis.stop();
    // The GatewayClient comes back meanwhile: its resume is refused for now, it claims
    // nothing, and it keeps the room and its position to try again.
    const reconnected = nextEvent(client, 'reconnected', 10_000);
    relay.retarget(one.port);
    expect(await reconnected).toMatchObject({
      failedRooms: [],
      pendingRooms: [room],
    });
    expect(client.rooms).toEqual([room]);
    expect(recorded.recoveries).toEqual([]);
    expect(recorded.seen).toHaveLength(5);
    const resume = {
      rooms: [
        { room, since: { offset: 5, epoch } },
        { room: warm, since: { offset: 5, epoch: warmEpoch } },
      ],
    };
    for (const app of [one, two]) {
      const back = await on(app);
      const joined = await joinSince(back, room, { offset: 5, epoch }, 'j');
      expect(joined.before).toEqual([]);
      expect(joined.reply).toMatchObject({
        event: 'error',
        id: 'j',
        data: { code: 'UNAVAILABLE' },
      });
      const resumed = await requestCollecting(back, 'resume', resume, 'r');
      expect(resumed.before).toEqual([]);
      expect(resumed.reply.data).toEqual({
        rooms: [
          {
            room,
            error: { code: 'UNAVAILABLE', message: expect.any(String) },
          },
          {
            room: warm,
            error: { code: 'UNAVAILABLE', message: expect.any(String) },
          },
        ],
      });
      await back.expectSilence(100);
    }

    await redis.start();
    await Promise.all([ready(one.port), ready(two.port)]);
    for (const app of [one, two]) {
      const back = await on(app);
      // The same resume, now that the store answers: every missed message of both rooms.
      const { before, reply } = await requestCollecting(
        back,
        'resume',
        resume,
        'r',
      );
      expect(reply.data).toEqual({
        rooms: [
          { room, offset: 15, epoch, recovered: true },
          { room: warm, offset: 15, epoch: warmEpoch, recovered: true },
        ],
      });
      const pushes = asMessages(before);
      expectRun(
        pushes.filter((p) => p.room === room),
        room,
        6,
        5,
      );
      expectRun(
        pushes.filter((p) => p.room === warm),
        warm,
        6,
        5,
      );
      expect(pushes).toHaveLength(20);
    }
    // The GatewayClient's own retry has recovered the 10 it missed, once each, in order.
    await vi.waitFor(() => expect(recorded.seen).toHaveLength(15), {
      timeout: 15_000,
    });
    expect(recorded.recoveries).toEqual([
      expect.objectContaining({ room, recovered: true }),
    ]);
    // Live delivery is back, on both instances, for the rooms and the member that stayed.
    await eventually(
      async () => {
        const ack = await publisher.request(
          'publish',
          { room: warm, data: { seq: 15 } },
          'probe',
        );
        return (ack.data as { instances?: number }).instances === 2;
      },
      'both instances to listen on the rooms again',
      10_000,
    );
    const got = await nextMessages(stayer, 1);
    expect(got[0]).toMatchObject({ room: warm, offset: 16 });
  });
});

describe('recovery metrics with Redis (e2e)', () => {
  it('counts appends, recoveries by outcome (recovered, gone, epoch, unavailable) and the messages replayed', async () => {
    const redis = await OwnRedis.start();
    const app = await startApp({
      gateway: {
        redis: { url: redis.url, channelPrefix: uniqueChannelPrefix() },
        history: {
          retention: (room: string) =>
            room.startsWith('small/') ? { size: 10 } : undefined,
        },
      },
    });
    const clients: TestClient[] = [];
    const on = async () => {
      const client = await connect(app.wsUrl, { token: TEST_TOKEN });
      clients.push(client);
      return client;
    };
    try {
      await ready(app.port);
      const publisher = await on();
      const member = await on();
      const { epoch } = (await member.request('join', { room: 'm/r' }, 1))
        .data as Position;
      await publishMany(publisher, 'm/r', 4);
      await nextMessages(member, 4);
      await member.close();
      await publishMany(publisher, 'm/r', 3, 4);
      const { epoch: smallEpoch } = await publishMany(publisher, 'small/r', 12);

      const back = await on();
      // recovered, 3 messages
      const recovered = await joinSince(back, 'm/r', { offset: 4, epoch }, 'r');
      expect(recovered.before).toHaveLength(3);
      // gone: 11 missed, 10 kept
      expect(
        (
          await back.request(
            'join',
            { room: 'small/r', since: { offset: 1, epoch: smallEpoch } },
            'g',
          )
        ).data,
      ).toMatchObject({ recovered: false, offset: 12 });
      // epoch
      expect(
        (
          await back.request(
            'resume',
            { rooms: [{ room: 'm/e', since: { offset: 3, epoch: 'old' } }] },
            'e',
          )
        ).data,
      ).toMatchObject({ rooms: [{ recovered: false }] });

      await redis.stop();
      // unavailable: a room this instance has a member in, and one it has none in.
      for (const room of ['m/r', 'm/cold']) {
        expect(
          await back.request(
            'join',
            { room, since: { offset: 7, epoch } },
            'u',
          ),
        ).toMatchObject({ event: 'error', data: { code: 'UNAVAILABLE' } });
      }
      // Neither a plain join nor a history read is a recovery.
      await back.request('join', { room: 'm/plain' }, 'p');
      await back.request('history', { room: 'm/r' }, 'h');

      const metrics = await scrapeMetrics(app.httpUrl);
      expect(sample(metrics, 'gateway_history_appended_total')).toBe(19);
      const outcome = (name: string) =>
        sample(metrics, 'gateway_recoveries_total', `{outcome="${name}"}`) ?? 0;
      expect({
        recovered: outcome('recovered'),
        gone: outcome('gone'),
        epoch: outcome('epoch'),
        unavailable: outcome('unavailable'),
      }).toEqual({ recovered: 1, gone: 1, epoch: 1, unavailable: 2 });
      expect(sample(metrics, 'gateway_recovery_messages_count')).toBe(1);
      expect(sample(metrics, 'gateway_recovery_messages_sum')).toBe(3);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await app.close();
      await redis.stop();
    }
  });
});
