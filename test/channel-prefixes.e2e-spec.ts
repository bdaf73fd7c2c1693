import { Redis } from 'ioredis';
import { BroadcastService } from '../src/gateway/broadcast/broadcast.service.js';
import { RedisMessageBus } from '../src/gateway/bus/redis-message-bus.js';
import { GatewayOptionsError } from '../src/gateway/gateway.options.js';
import {
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { runGateway } from './support/spawn-gateway.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

// Two deployments on one Redis whose channel names used to run into each other: with a prefix
// simply prepended, `P:` + `room:broadcast` was `P:room:` + `broadcast`, and `P:` +
// `room:room:lobby` was `P:room:` + `room:lobby`. The `P:` deployment has two instances, so
// that each check also shows its messages did go through Redis; `P:room:` has one.
describe('two deployments on one Redis with prefixes P: and P:room: (e2e)', () => {
  const base = uniqueChannelPrefix();
  const short = `${base}P:`;
  const long = `${base}P:room:`;
  let p1: RunningApp;
  let p2: RunningApp;
  let q: RunningApp;
  let redis: Redis;
  const clients: TestClient[] = [];

  const on = async (app: RunningApp) => {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    clients.push(client);
    return client;
  };
  const deployment = (channelPrefix: string) => ({
    gateway: { redis: { url: SHARED_REDIS_URL, channelPrefix } },
  });

  beforeAll(async () => {
    [p1, p2, q] = await Promise.all([
      startApp(deployment(short)),
      startApp(deployment(short)),
      startApp(deployment(long)),
    ]);
    redis = new Redis(SHARED_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all([p1?.close(), p2?.close(), q?.close()]);
    await redis?.quit();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('a P: room named "broadcast" is not the P:room: deployment’s broadcast channel', async () => {
    const shortSender = await on(p1);
    const shortMember = await on(p2);
    const longSender = await on(q);
    const longClient = await on(q);
    await shortMember.request('join', { room: 'broadcast' }, 'j');

    // instances counts what Redis delivered to: P:room: must not be among them.
    expect(
      await shortSender.request(
        'publish',
        { room: 'broadcast', data: 'P: only' },
        1,
      ),
    ).toMatchObject({ data: { recipients: 0, instances: 2 } });
    expect((await shortMember.nextJson()).data).toMatchObject({
      room: 'broadcast',
      data: 'P: only',
    });
    await longClient.expectSilence(300);

    expect(await longSender.request('broadcast', 'P:room: only', 2)).toEqual({
      event: 'broadcast',
      data: { recipients: 1, instances: 1 },
      id: 2,
    });
    expect((await longClient.nextJson()).data).toMatchObject({
      data: 'P:room: only',
    });
    await shortMember.expectSilence(300);
  });

  it('a P: room named "room:lobby" is not the P:room: deployment’s "lobby"', async () => {
    const shortMember = await on(p1);
    const shortSender = await on(p2);
    const longMember = await on(q);
    const longSender = await on(q);
    await shortMember.request('join', { room: 'room:lobby' }, 'j');
    await longMember.request('join', { room: 'lobby' }, 'j');

    expect(
      await longSender.request(
        'publish',
        { room: 'lobby', data: 'P:room: lobby' },
        1,
      ),
    ).toMatchObject({ data: { room: 'lobby', recipients: 1, instances: 1 } });
    expect((await longMember.nextJson()).data).toMatchObject({
      data: 'P:room: lobby',
    });
    await shortMember.expectSilence(300);

    expect(
      await shortSender.request(
        'publish',
        { room: 'room:lobby', data: 'P: room:lobby' },
        2,
      ),
    ).toMatchObject({ data: { recipients: 0, instances: 2 } });
    expect((await shortMember.nextJson()).data).toMatchObject({
      room: 'room:lobby',
      data: 'P: room:lobby',
    });
    await longMember.expectSilence(300);
  });

  it('a P: room named "instance:<id>" does not get the P:room: deployment’s direct messages', async () => {
    const shortMember = await on(p1);
    // An instance of P:room: that is not running: nobody may be listening for it.
    await shortMember.request('join', { room: 'instance:0badc0de' }, 'j');
    await expect(
      q.app
        .get(BroadcastService)
        .sendToConnection('0badc0de-1', 'notice', 'for P:room: only'),
    ).resolves.toBe(false);
    await shortMember.expectSilence(300);
  });

  it('puts every channel on Redis under exactly one of the two prefixes', async () => {
    const shortMember = await on(p1);
    const longMember = await on(q);
    await shortMember.request('join', { room: 'room:lobby' }, 'j');
    await longMember.request('join', { room: 'lobby' }, 'j');
    const channels = (await redis.pubsub('CHANNELS', `${base}*`)) as string[];
    expect(channels).toEqual(
      expect.arrayContaining([
        `${short}|broadcast`,
        `${short}|room:room:lobby`,
        `${long}|broadcast`,
        `${long}|room:lobby`,
      ]),
    );
    for (const channel of channels) {
      const owners = [short, long].filter((p) => channel.startsWith(`${p}|`));
      expect(owners, channel).toHaveLength(1);
    }
  });
});

describe('a channel prefix with the separator "|" (e2e)', () => {
  const base = uniqueChannelPrefix();

  it('stops the boot of a module with such redis options', async () => {
    const error = await startApp({
      gateway: { redis: { url: SHARED_REDIS_URL, channelPrefix: `${base}P|` } },
    }).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(GatewayOptionsError);
    expect((error as GatewayOptionsError).problems).toEqual([
      `redis.channelPrefix: must not contain "|", which ends the prefix in every channel name (got "${base}P|")`,
    ]);
  });

  it('is refused by a RedisMessageBus built by hand', async () => {
    let bus: RedisMessageBus | undefined;
    try {
      expect(() => {
        bus = new RedisMessageBus({
          url: SHARED_REDIS_URL,
          channelPrefix: `${base}P|`,
          instanceId: 'i1',
        });
      }).toThrow(/channel prefix .* must not contain "\|"/);
    } finally {
      await bus?.onApplicationShutdown();
    }
  });

  it('stops the service at boot when REDIS_CHANNEL_PREFIX has it', async () => {
    const gateway = runGateway({
      AUTH_TOKENS: TEST_TOKEN,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_CHANNEL_PREFIX: `${base}P|`,
    });
    expect(await gateway.exited).not.toBe(0);
    const output = gateway.output();
    expect(output).toContain('Invalid configuration (1 problem)');
    expect(output).toMatch(
      /REDIS_CHANNEL_PREFIX: .*must not contain "\|", which ends the prefix in every channel name/,
    );
    expect(output).toContain(`(got "${base}P|")`);
  });
});
