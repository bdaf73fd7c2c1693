import { eventually } from './support/eventually.js';
import { getJson } from './support/http.js';
import {
  freePort,
  OwnRedis,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

const ready = async (app: RunningApp) =>
  (await getJson(app.httpUrl, '/readyz')).status === 200;

describe('Redis going away and coming back (e2e)', () => {
  let redis: OwnRedis;
  let one: RunningApp;
  let two: RunningApp;
  let publisher: TestClient;
  let localMember: TestClient;
  let remoteMember: TestClient;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    const gateway = {
      redis: { url: redis.url, channelPrefix: uniqueChannelPrefix() },
      // Rooms under live/ keep no history: they are served locally through an outage.
      history: {
        retention: (room: string) =>
          room.startsWith('live/') ? { size: 0 } : undefined,
      },
    };
    [one, two] = await Promise.all([
      startApp({ gateway }),
      startApp({ gateway }),
    ]);
    publisher = await connect(one.wsUrl, { token: TEST_TOKEN });
    localMember = await connect(one.wsUrl, { token: TEST_TOKEN });
    remoteMember = await connect(two.wsUrl, { token: TEST_TOKEN });
    for (const room of ['ops', 'live/ops']) {
      await localMember.request('join', { room }, 'j1');
      await remoteMember.request('join', { room }, 'j2');
    }
  });
  afterAll(async () => {
    await Promise.all(
      [publisher, localMember, remoteMember].map((c) => c.close()),
    );
    await Promise.all([one.close(), two.close()]);
    await redis.stop();
  });

  it('fans out while Redis is up', async () => {
    const ack = await publisher.request(
      'publish',
      { room: 'ops', data: 'before' },
      'p0',
    );
    expect(ack.data).toEqual({
      room: 'ops',
      recipients: 1,
      instances: 2,
      offset: 1,
      epoch: expect.any(String),
    });
    expect((await localMember.nextJson()).data).toMatchObject({
      data: 'before',
      offset: 1,
    });
    expect((await remoteMember.nextJson()).data).toMatchObject({
      data: 'before',
    });
  });

  it('keeps serving local clients during the outage, and says what could not be sent', async () => {
    await redis.stop();
    await eventually(async () => !(await ready(one)), 'readiness to turn 503');

    const readyz = await getJson(one.httpUrl, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatchObject({
      error: {
        bus: { status: 'down' },
        stores: {
          status: 'down',
          history: 'RedisHistoryStore',
          presence: 'RedisPresenceStore',
          message: 'cannot reach history and presence',
        },
      },
    });
    expect((await getJson(one.httpUrl, '/healthz')).status).toBe(200);

    expect(await publisher.request('echo', 'still here', 'e1')).toEqual({
      event: 'echo',
      data: 'still here',
      id: 'e1',
    });

    // A room with history: nobody receives what could not be stored.
    const ack = await publisher.request(
      'publish',
      { room: 'ops', data: 'during' },
      'p1',
    );
    expect(ack).toEqual({
      event: 'error',
      id: 'p1',
      data: {
        code: 'UNAVAILABLE',
        message:
          'the history of room "ops" cannot be reached: the message was not sent to anyone',
      },
    });
    // Nor can a recovery be checked, or a page read: never a silent answer.
    const since = { offset: 0, epoch: 'whatever' };
    expect(
      await localMember.request('join', { room: 'ops', since }, 'r1'),
    ).toMatchObject({
      event: 'error',
      id: 'r1',
      data: { code: 'UNAVAILABLE' },
    });
    expect(
      await localMember.request(
        'resume',
        { rooms: [{ room: 'ops', since }] },
        'r2',
      ),
    ).toEqual({
      event: 'resume',
      id: 'r2',
      data: {
        rooms: [
          {
            room: 'ops',
            error: {
              code: 'UNAVAILABLE',
              message:
                'the history of room "ops" cannot be reached: nothing could be recovered',
            },
          },
        ],
      },
    });
    expect(
      await localMember.request('history', { room: 'ops' }, 'r3'),
    ).toMatchObject({
      event: 'error',
      id: 'r3',
      data: { code: 'UNAVAILABLE' },
    });

    // A room without history: the local members have it; the ack says the rest did not.
    const liveAck = await publisher.request(
      'publish',
      { room: 'live/ops', data: 'during' },
      'p1',
    );
    expect(liveAck).toMatchObject({
      event: 'error',
      id: 'p1',
      data: { code: 'UNAVAILABLE' },
    });
    expect((liveAck.data as { message: string }).message).toMatch(
      /reached 1 member\(s\) here but not the other instances/,
    );
    expect((await localMember.nextJson()).data).toEqual({
      room: 'live/ops',
      from: expect.any(String),
      data: 'during',
    });

    const broadcastAck = await publisher.request('broadcast', 'during', 'b1');
    expect(broadcastAck).toMatchObject({
      event: 'error',
      id: 'b1',
      data: { code: 'UNAVAILABLE' },
    });
    expect((await localMember.nextJson()).event).toBe('broadcast');
    await remoteMember.expectSilence(300);

    const metrics = (await getJson(one.httpUrl, '/metrics')).body as string;
    expect(metrics).toMatch(/^gateway_bus_up 0$/m);
    // The live/ room message and the broadcast above: counted, not silently dropped.
    expect(
      Number(/^gateway_bus_publish_failures_total (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(2);
  });

  it('recovers by itself when Redis returns: ready again, subscriptions restored, fan-out resumes', async () => {
    await redis.start();
    await eventually(
      async () => (await ready(one)) && (await ready(two)),
      'both instances to be ready',
      10_000,
    );
    // Subscriptions are restored right after 'ready'; the first publish may race them.
    await eventually(
      async () => {
        const ack = await publisher.request(
          'publish',
          { room: 'ops', data: 'probe' },
          'probe',
        );
        await localMember.nextJson();
        if ((ack.data as { instances?: number }).instances !== 2) return false;
        await remoteMember.nextJson();
        return true;
      },
      'the other instance to listen on the room again',
      10_000,
    );
    const ack = await publisher.request(
      'publish',
      { room: 'ops', data: 'after' },
      'p2',
    );
    expect(ack.data).toMatchObject({
      room: 'ops',
      recipients: 1,
      instances: 2,
    });
    expect((await remoteMember.nextJson()).data).toMatchObject({
      data: 'after',
    });
    expect((await localMember.nextJson()).data).toMatchObject({
      data: 'after',
    });
  });
});

describe('Redis down when the gateway starts (e2e)', () => {
  it('starts, serves locally, and becomes ready when Redis answers', async () => {
    const port = await freePort();
    const gateway = {
      redis: {
        url: `redis://127.0.0.1:${port}`,
        channelPrefix: uniqueChannelPrefix(),
      },
    };
    const app = await startApp({ gateway });
    let redis: OwnRedis | undefined;
    try {
      expect((await getJson(app.httpUrl, '/readyz')).status).toBe(503);
      const client = await connect(app.wsUrl, { token: TEST_TOKEN });
      expect(await client.request('echo', 1, 1)).toEqual({
        event: 'echo',
        data: 1,
        id: 1,
      });
      expect((await client.request('join', { room: 'early' }, 2)).event).toBe(
        'join',
      );

      redis = await OwnRedis.start(port);
      await eventually(
        () => ready(app),
        'readiness once Redis answers',
        10_000,
      );
      const other = await startApp({ gateway });
      try {
        const sender = await connect(other.wsUrl, { token: TEST_TOKEN });
        await eventually(
          async () => {
            const ack = await sender.request(
              'publish',
              { room: 'early', data: 'hi' },
              'p',
            );
            return (ack.data as { instances?: number }).instances === 2;
          },
          'the room joined during the outage to be subscribed',
          10_000,
        );
        expect((await client.nextJson()).data).toMatchObject({
          room: 'early',
          data: 'hi',
        });
        await sender.close();
      } finally {
        await other.close();
      }
      await client.close();
    } finally {
      await app.close();
      await redis?.stop();
    }
  });
});
