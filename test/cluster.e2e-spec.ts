import { Redis } from 'ioredis';
import { BroadcastService } from '../src/gateway/broadcast/broadcast.service.js';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { BusCounts } from '../src/gateway/telemetry/instrumented-message-bus.js';
import { eventually } from './support/eventually.js';
import {
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

describe('two instances sharing one Redis (e2e)', () => {
  const channelPrefix = uniqueChannelPrefix();
  let one: RunningApp;
  let two: RunningApp;
  let redis: Redis;
  const clients: TestClient[] = [];

  const on = async (app: RunningApp) => {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    clients.push(client);
    return client;
  };
  const idOf = (app: RunningApp) =>
    app.app.get(ConnectionRegistry).all().at(-1)!.id;
  const channels = () =>
    redis.pubsub('CHANNELS', `${channelPrefix}*`) as Promise<string[]>;

  beforeAll(async () => {
    const gateway = {
      redis: { url: SHARED_REDIS_URL, channelPrefix },
      // The ordering test sends 1,000 messages at once: far over the default rate limit.
      rateLimit: { perSecond: 10_000, burst: 10_000 },
    };
    [one, two] = await Promise.all([
      startApp({ gateway }),
      startApp({ gateway }),
    ]);
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all([one.close(), two.close()]);
    await redis.quit();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('reports Redis in readiness', async () => {
    const res = await fetch(`${one.httpUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      info: { bus: { status: 'up', kind: 'RedisMessageBus' } },
    });
  });

  it('a broadcast reaches the clients of both instances, not the sender', async () => {
    const sender = await on(one);
    const senderId = idOf(one);
    const local = await on(one);
    const remote = [await on(two), await on(two)];
    const ack = await sender.request('broadcast', 'everyone', 'b');
    expect(ack).toEqual({
      event: 'broadcast',
      data: { recipients: 1, instances: 2 },
      id: 'b',
    });
    const expected = {
      event: 'broadcast',
      data: { from: senderId, data: 'everyone' },
    };
    expect(await local.nextJson()).toEqual(expected);
    for (const r of remote) expect(await r.nextJson()).toEqual(expected);
    await sender.expectSilence(200);
  });

  it('a room message reaches members on the other instance only', async () => {
    const publisher = await on(one);
    const publisherId = idOf(one);
    const member = await on(two);
    const outsider = await on(two);
    // The room keeps its history in Redis: one stream for both instances.
    const joined = await member.request('join', { room: 'cross' }, 1);
    expect(joined.data).toEqual({
      room: 'cross',
      offset: 0,
      epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string,
    });
    const { epoch } = joined.data as { epoch: string };
    const ack = await publisher.request(
      'publish',
      { room: 'cross', data: 'over there' },
      2,
    );
    // Numbered in the stream the member joined, though published on the other instance.
    expect(ack.data).toEqual({
      room: 'cross',
      recipients: 0,
      instances: 2,
      offset: 1,
      epoch,
    });
    expect(await member.nextJson()).toEqual({
      event: 'message',
      data: { room: 'cross', from: publisherId, data: 'over there', offset: 1 },
    });
    await outsider.expectSilence(200);
  });

  it('an instance listens on a room channel only while it has members there', async () => {
    const member = await on(two);
    expect(await channels()).not.toContain(`${channelPrefix}|room:quiet`);
    await member.request('join', { room: 'quiet' }, 1);
    expect(await channels()).toContain(`${channelPrefix}|room:quiet`);
    await member.request('leave', { room: 'quiet' }, 2);
    // The unsubscribe is not awaited by leave: Redis learns of it a moment later.
    await eventually(
      async () => !(await channels()).includes(`${channelPrefix}|room:quiet`),
      'the room channel to be unsubscribed',
    );
  });

  it('leave on the other instance stops delivery there', async () => {
    const publisher = await on(one);
    const member = await on(two);
    await member.request('join', { room: 'brief' }, 1);
    await publisher.request('publish', { room: 'brief', data: 'first' }, 2);
    expect((await member.nextJson()).data).toMatchObject({ data: 'first' });
    await member.request('leave', { room: 'brief' }, 3);
    await publisher.request('publish', { room: 'brief', data: 'second' }, 4);
    await member.expectSilence(300);
  });

  it('1,000 messages from one publisher arrive complete and in order on the other instance', async () => {
    const publisher = await on(one);
    const members = [await on(two), await on(two)];
    for (const m of members) await m.request('join', { room: 'firehose' }, 'j');
    const count = 1_000;
    for (let i = 0; i < count; i++)
      publisher.sendJson({
        event: 'publish',
        data: { room: 'firehose', data: i },
      });
    for (const m of members) {
      const received: Array<{ data: number; offset: number }> = [];
      for (let i = 0; i < count; i++) {
        const { data, offset } = (await m.nextJson()).data as {
          data: number;
          offset: number;
        };
        received.push({ data, offset });
      }
      // In the order sent, numbered 1..count in that order (a fresh room).
      expect(received).toEqual(
        Array.from({ length: count }, (_, i) => ({ data: i, offset: i + 1 })),
      );
    }
    for (let i = 0; i < count; i++) {
      const ack = await publisher.nextJson();
      expect(ack).toMatchObject({
        event: 'publish',
        data: { room: 'firehose', instances: 2 },
      });
    }
    const metrics = await (await fetch(`${two.httpUrl}/metrics`)).text();
    const latencies = /^gateway_delivery_latency_seconds_count (\d+)$/m.exec(
      metrics,
    );
    expect(Number(latencies?.[1])).toBeGreaterThanOrEqual(count);
  });

  it('server code reaches one connection on another instance', async () => {
    const target = await on(two);
    const targetId = idOf(two);
    const delivered = await one.app
      .get(BroadcastService)
      .sendToConnection(targetId, 'notice', { text: 'just you' });
    expect(delivered).toBe(true);
    expect(await target.nextJson()).toEqual({
      event: 'notice',
      data: { text: 'just you' },
    });
    expect(
      await one.app
        .get(BroadcastService)
        .sendToConnection(`ffffffff-1`, 'notice', null),
    ).toBe(false);
  });

  it('drops what is not in the bus format on a gateway channel, and counts it on each instance', async () => {
    const listeners = [await on(one), await on(two)];
    const before = [one, two].map((a) => a.app.get(BusCounts).malformed);
    const received = [one, two].map((a) => a.app.get(BusCounts).received);
    // Another program (or version) publishing plain JSON on the deployment's broadcast channel.
    await redis.publish(
      `${channelPrefix}|broadcast`,
      JSON.stringify({ origin: 'x', frame: '{"event":"broadcast"}' }),
    );
    await eventually(
      () =>
        [one, two].every((a, i) => a.app.get(BusCounts).malformed > before[i]),
      'both instances to report the message as malformed',
    );
    expect([one, two].map((a) => a.app.get(BusCounts).malformed)).toEqual(
      before.map((n) => n + 1),
    );
    expect([one, two].map((a) => a.app.get(BusCounts).received)).toEqual(
      received,
    );
    for (const l of listeners) await l.expectSilence(200);
  });
});
