import {
  GatewayClient,
  RequestError,
  type RoomRecovery,
} from '../src/client/index.js';
import { nextEvent, settle } from './support/client-events.js';
import { sample, scrapeMetrics } from './support/metrics.js';
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
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { TcpRelay } from './support/tcp-relay.js';
import { connect, type TestClient } from './support/ws-client.js';

/** Rooms by prefix: small/ keeps 10 messages, off/ none, brief/ keeps them 300 ms. */
function retention(room: string) {
  if (room.startsWith('small/')) return { size: 10 };
  if (room.startsWith('off/')) return { size: 0 };
  if (room.startsWith('brief/')) return { ttlMs: 300 };
  return undefined;
}

/** `count` consecutive integers from `first`. */
const range = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => first + i);

/** The single instance's settings: an in-memory store; recoveries and pages of at most 200. */
const GATEWAY = {
  rateLimit: { perSecond: 100_000, burst: 100_000 },
  history: { recoveryLimit: 200, retention },
};

describe('room history on one instance, in memory (e2e)', () => {
  let app: RunningApp;
  const clients: TestClient[] = [];
  const gatewayClients: GatewayClient[] = [];

  const on = async () => {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    clients.push(client);
    return client;
  };
  /** Joins `room` and returns its position from the reply. */
  const join = async (client: TestClient, room: string) => {
    const reply = await client.request('join', { room }, `join:${room}`);
    expect(reply.event).toBe('join');
    return reply.data as Position;
  };

  beforeAll(async () => {
    app = await startApp({ gateway: GATEWAY });
  });
  afterAll(async () => {
    await app.close();
  });
  afterEach(async () => {
    await Promise.all(gatewayClients.splice(0).map((c) => c.close()));
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('a dropped client gets what it missed with join since: each message once, in order, before the reply, then the live ones', async () => {
    const room = 'mem/join-since';
    const publisher = await on();
    const member = await on();
    const { epoch } = await join(member, room);
    await publishMany(publisher, room, 3);
    expectRun(await nextMessages(member, 3), room, 1, 0);
    await member.close();

    const missed = await publishMany(publisher, room, 150, 3);
    expect(missed).toEqual({ offsets: range(4, 150), epoch });

    const back = await on();
    const { before, reply } = await joinSince(
      back,
      room,
      { offset: 3, epoch },
      'r',
    );
    expect(reply).toEqual({
      event: 'join',
      id: 'r',
      data: { room, offset: 153, epoch, recovered: true },
    });
    expect(before).toHaveLength(150);
    expectRun(asMessages(before), room, 4, 3);

    await publishMany(publisher, room, 2, 153);
    expectRun(await nextMessages(back, 2), room, 154, 153);
    await back.expectSilence(200);
  });

  it('resume joins every room from its own position in one round trip: missed ones replayed, none twice', async () => {
    const [missing, current, fresh] = [
      'mem/resume-a',
      'mem/resume-b',
      'mem/resume-c',
    ];
    const publisher = await on();
    const member = await on();
    const a = await join(member, missing);
    const b = await join(member, current);
    await publishMany(publisher, missing, 2);
    await publishMany(publisher, current, 4);
    const first = await nextMessages(member, 6);
    expectRun(first.slice(0, 2), missing, 1, 0);
    expectRun(first.slice(2), current, 1, 0);
    await member.close();

    await publishMany(publisher, missing, 7, 2);
    const back = await on();
    const { before, reply } = await requestCollecting(
      back,
      'resume',
      {
        rooms: [
          { room: missing, since: { offset: 2, epoch: a.epoch } },
          { room: current, since: { offset: 4, epoch: b.epoch } },
          { room: fresh },
        ],
      },
      'resume',
    );
    expect(reply).toEqual({
      event: 'resume',
      id: 'resume',
      data: {
        rooms: [
          { room: missing, offset: 9, epoch: a.epoch, recovered: true },
          { room: current, offset: 4, epoch: b.epoch, recovered: true },
          { room: fresh, offset: 0, epoch: expect.stringMatching(/^[\w-]+$/) },
        ],
      },
    });
    expectRun(asMessages(before), missing, 3, 2);

    // Joined all three: the live messages of each come, once.
    await publishMany(publisher, missing, 1, 9);
    await publishMany(publisher, current, 1, 4);
    await publishMany(publisher, fresh, 1);
    const live = await nextMessages(back, 3);
    expect(live.map((p) => [p.room, p.offset, p.data.seq])).toEqual([
      [missing, 10, 9],
      [current, 5, 4],
      [fresh, 1, 0],
    ]);
    await back.expectSilence(200);
  });

  it('a position older than the kept window gets recovered:false with the current position and none of the missed messages', async () => {
    const room = 'small/window';
    const publisher = await on();
    const member = await on();
    const { epoch } = await join(member, room);
    await member.close();
    await publishMany(publisher, room, 50);

    const back = await on();
    const { before, reply } = await joinSince(
      back,
      room,
      { offset: 0, epoch },
      'old',
    );
    expect(before).toEqual([]);
    expect(reply.data).toEqual({ room, offset: 50, epoch, recovered: false });
    await back.expectSilence(200);
    // Still joined: live delivery goes on from the position the reply gave.
    await publishMany(publisher, room, 1, 50);
    expectRun(await nextMessages(back, 1), room, 51, 50);

    // Within the window (the last 10 are 42..51): recovered.
    const recent = await on();
    const within = await joinSince(
      recent,
      room,
      { offset: 41, epoch },
      'recent',
    );
    expect(within.reply.data).toEqual({
      room,
      offset: 51,
      epoch,
      recovered: true,
    });
    expectRun(asMessages(within.before), room, 42, 41);

    // A position beyond the room's top was never given out by this stream: not recovered.
    const ahead = await on();
    const beyond = await joinSince(ahead, room, { offset: 80, epoch }, 'ahead');
    expect(beyond.before).toEqual([]);
    expect(beyond.reply.data).toEqual({
      room,
      offset: 51,
      epoch,
      recovered: false,
    });
  });

  it('more missed messages than HISTORY_RECOVERY_LIMIT is recovered:false, though they are kept', async () => {
    const room = 'mem/over-limit';
    const publisher = await on();
    const member = await on();
    const { epoch } = await join(member, room);
    await member.close();
    await publishMany(publisher, room, 201);

    const back = await on();
    const over = await joinSince(back, room, { offset: 0, epoch }, 'over');
    expect(over.before).toEqual([]);
    expect(over.reply.data).toEqual({
      room,
      offset: 201,
      epoch,
      recovered: false,
    });

    // Exactly the limit: recovered.
    const limit = await on();
    const at = await joinSince(limit, room, { offset: 1, epoch }, 'at');
    expect(at.reply.data).toEqual({
      room,
      offset: 201,
      epoch,
      recovered: true,
    });
    expectRun(asMessages(at.before), room, 2, 1);
  });

  it('a position of another epoch, or of a stream that expired whole, is recovered:false in the new epoch', async () => {
    const publisher = await on();
    const stranger = await on();
    await publishMany(publisher, 'mem/epochs', 3);
    const other = await joinSince(
      stranger,
      'mem/epochs',
      { offset: 1, epoch: 'not-this-one' },
      'other',
    );
    expect(other.before).toEqual([]);
    expect(other.reply.data).toEqual({
      room: 'mem/epochs',
      offset: 3,
      epoch: expect.not.stringMatching(/^not-this-one$/),
      recovered: false,
    });

    // brief/ keeps messages 300 ms: once they all expired, the stream starts a new life.
    const room = 'brief/expiry';
    const member = await on();
    const { epoch } = await join(member, room);
    await member.close();
    await publishMany(publisher, room, 3);
    await new Promise((resolve) => setTimeout(resolve, 450));
    const late = await on();
    const expired = await joinSince(late, room, { offset: 3, epoch }, 'late');
    expect(expired.before).toEqual([]);
    const position = expired.reply.data as Position & { recovered: boolean };
    expect(position).toEqual({
      room,
      offset: 0,
      epoch: expect.any(String),
      recovered: false,
    });
    expect(position.epoch).not.toBe(epoch);
    await publishMany(publisher, room, 1, 3);
    expectRun(await nextMessages(late, 1), room, 1, 3);
  });

  it('a GatewayClient whose connection drops gets the missed messages once through its resume, and recovery says recovered', async () => {
    const room = 'mem/client-drop';
    const relay = await TcpRelay.start(app.port);
    try {
      const client = new GatewayClient({
        url: relay.url,
        token: TEST_TOKEN,
        reconnect: FAST_RECONNECT,
      });
      gatewayClients.push(client);
      const seen: Pushed[] = [];
      const recoveries: RoomRecovery[] = [];
      client.onPush('message', (data) => seen.push(data as unknown as Pushed));
      client.on('recovery', (r) => recoveries.push(r));
      await client.connect();
      const { epoch } = (await client.join(room)) as Position;
      const publisher = await on();
      await publishMany(publisher, room, 4);
      await vi.waitFor(() => expect(seen).toHaveLength(4), WAIT);

      relay.retarget(undefined);
      const closed = nextEvent(client, 'close');
      relay.cut();
      expect(await closed).toMatchObject({ code: 1006, willReconnect: true });
      await publishMany(publisher, room, 60, 4);
      const reconnected = nextEvent(client, 'reconnected');
      relay.retarget(app.port);
      expect(await reconnected).toMatchObject({
        rooms: [room],
        failedRooms: [],
      });

      expect(recoveries).toEqual([
        { room, recovered: true, position: { offset: 64, epoch } },
      ]);
      // Delivered before `reconnected`: every one once, in order.
      expectRun(seen, room, 1, 0);
      expect(seen).toHaveLength(64);
      await publishMany(publisher, room, 1, 64);
      await vi.waitFor(() => expect(seen).toHaveLength(65), WAIT);
      expectRun(seen, room, 1, 0);
      expect(client.position(room)).toEqual({ offset: 65, epoch });
      expect(recoveries).toHaveLength(1);
    } finally {
      await relay.close();
    }
  });

  describe('the history request', () => {
    it('pages through the kept messages with since and limit, oldest first, without joining', async () => {
      const room = 'mem/pages';
      const publisher = await on();
      const reader = await on();
      const { epoch } = await publishMany(publisher, room, 30);
      const page = async (data: object) => {
        const reply = await reader.request('history', { room, ...data }, 'h');
        expect(reply.event).toBe('history');
        const body = reply.data as Position & {
          room: string;
          messages: Pushed[];
        };
        expect(body).toMatchObject({ room, offset: 30, epoch });
        return body.messages;
      };

      // Newest first page without since: the default limit (100, here capped at 200) takes all.
      const all = await page({});
      expectRun(all, room, 1, 0);
      expect(all[0]).toEqual({
        room,
        from: expect.any(String),
        data: { seq: 0 },
        offset: 1,
      });
      expectRun(await page({ limit: 10 }), room, 21, 20);

      // Forward from a position, a page at a time, until the last offset is the reply's top.
      const read: Pushed[] = [];
      let since = { offset: 5, epoch };
      for (;;) {
        const messages = await page({ since, limit: 10 });
        if (messages.length === 0) break;
        read.push(...messages);
        since = { offset: messages.at(-1)!.offset, epoch };
      }
      expectRun(read, room, 6, 5);
      expect(read).toHaveLength(25);

      // A position of another epoch: the newest, as without since.
      expectRun(
        await page({ since: { offset: 5, epoch: 'gone-epoch' }, limit: 3 }),
        room,
        28,
        27,
      );

      // history does not join: the next message is not pushed to the reader.
      await publishMany(publisher, room, 1, 30);
      await reader.expectSilence(200);
    });

    it('shows a gap when since is older than what is kept', async () => {
      const room = 'small/pages';
      const publisher = await on();
      const reader = await on();
      const { epoch } = await publishMany(publisher, room, 30);
      const reply = await reader.request(
        'history',
        { room, since: { offset: 5, epoch }, limit: 50 },
        'gap',
      );
      const body = reply.data as { offset: number; messages: Pushed[] };
      expect(body.offset).toBe(30);
      expectRun(body.messages, room, 21, 20);
    });

    it('refuses a limit above HISTORY_RECOVERY_LIMIT and a room without history with BAD_REQUEST', async () => {
      const reader = await on();
      expect(
        await reader.request('history', { room: 'mem/x', limit: 201 }, 'big'),
      ).toEqual({
        event: 'error',
        id: 'big',
        data: {
          code: 'BAD_REQUEST',
          message: 'limit must be at most 200',
          details: [{ field: 'limit', message: 'must be at most 200' }],
        },
      });
      expect(
        (await reader.request('history', { room: 'mem/x', limit: 200 }, 'max'))
          .event,
      ).toBe('history');
      expect(
        await reader.request('history', { room: 'mem/x', limit: 0 }, 'zero'),
      ).toMatchObject({ event: 'error', data: { code: 'BAD_REQUEST' } });
      expect(await reader.request('history', { room: 'off/x' }, 'off')).toEqual(
        {
          event: 'error',
          id: 'off',
          data: {
            code: 'BAD_REQUEST',
            message: 'room "off/x" keeps no history',
          },
        },
      );
    });

    it('is read by GatewayClient.history(), and its errors are RequestErrors', async () => {
      const room = 'mem/client-history';
      const publisher = await on();
      await publishMany(publisher, room, 5);
      const client = new GatewayClient({
        url: app.wsUrl,
        token: TEST_TOKEN,
        reconnect: false,
      });
      gatewayClients.push(client);
      await client.connect();
      const page = await client.history<{ seq: number }>(room, { limit: 2 });
      expect(page).toMatchObject({ room, offset: 5 });
      expect(page.messages.map((m) => [m.offset, m.data.seq])).toEqual([
        [4, 3],
        [5, 4],
      ]);
      const refused = await settle(client.history('off/x'));
      expect(refused.error).toBeInstanceOf(RequestError);
      expect(refused.error).toMatchObject({ code: 'BAD_REQUEST' });
    });
  });

  it('counts appends and recoveries by outcome in /metrics', async () => {
    // A fresh instance: its counters hold only what this scenario does.
    const fresh = await startApp({ gateway: GATEWAY });
    try {
      const connectTo = () => connect(fresh.wsUrl, { token: TEST_TOKEN });
      const publisher = await connectTo();
      const member = await connectTo();
      const joined = await member.request('join', { room: 'm/a' }, 1);
      const { epoch } = joined.data as Position;
      await publishMany(publisher, 'm/a', 4);
      await nextMessages(member, 4);
      await member.close();
      await publishMany(publisher, 'm/a', 3, 4);
      await publishMany(publisher, 'small/m', 12);

      const back = await connectTo();
      const recovered = await joinSince(back, 'm/a', { offset: 4, epoch }, 'r');
      expect(recovered.before).toHaveLength(3);
      const other = await back.request(
        'join',
        { room: 'm/b', since: { offset: 1, epoch: 'elsewhere' } },
        'e',
      );
      expect(other.data).toMatchObject({ recovered: false });
      const foreign = await back.request(
        'resume',
        { rooms: [{ room: 'small/m', since: { offset: 0, epoch: 'x' } }] },
        'f',
      );
      expect(foreign.data).toMatchObject({ rooms: [{ recovered: false }] });
      // The epoch of small/m, read without joining, for a position that is no longer kept.
      const { epoch: smallEpoch } = (
        await publisher.request('history', { room: 'small/m', limit: 1 }, 'h')
      ).data as Position;
      const old = await back.request(
        'join',
        { room: 'small/m', since: { offset: 1, epoch: smallEpoch } },
        'o',
      );
      expect(old.data).toMatchObject({ recovered: false, offset: 12 });

      const metrics = await scrapeMetrics(fresh.httpUrl);
      expect(sample(metrics, 'gateway_history_appended_total')).toBe(19);
      const outcome = (name: string) =>
        sample(metrics, 'gateway_recoveries_total', `{outcome="${name}"}`) ?? 0;
      expect({
        recovered: outcome('recovered'),
        gone: outcome('gone'),
        epoch: outcome('epoch'),
        unavailable: outcome('unavailable'),
      }).toEqual({ recovered: 1, gone: 1, epoch: 2, unavailable: 0 });
      expect(sample(metrics, 'gateway_recovery_messages_count')).toBe(1);
      expect(sample(metrics, 'gateway_recovery_messages_sum')).toBe(3);
      expect(
        sample(metrics, 'gateway_recovery_messages_bucket', '{le="1"}'),
      ).toBe(0);
      expect(
        sample(metrics, 'gateway_recovery_messages_bucket', '{le="10"}'),
      ).toBe(1);
      await Promise.all([publisher, back].map((c) => c.close()));
    } finally {
      await fresh.close();
    }
  });
});

describe('room history under a room ACL (e2e)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({
      gateway: {
        roomAcl: {
          claim: 'rooms',
          grants: ['join:*', 'publish:*', 'history:open/*'],
        },
      },
    });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers history only for rooms the principal holds the history grant of; FORBIDDEN elsewhere', async () => {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    try {
      await publishMany(client, 'open/news', 2);
      await publishMany(client, 'closed/news', 2);
      const open = await client.request('history', { room: 'open/news' }, 1);
      expect(open.event).toBe('history');
      expect((open.data as { messages: unknown[] }).messages).toHaveLength(2);
      const closed = await client.request(
        'history',
        { room: 'closed/news' },
        2,
      );
      expect(closed).toMatchObject({
        event: 'error',
        id: 2,
        data: { code: 'FORBIDDEN' },
      });
      // Joining (with since) needs the join grant only: allowed, and it recovers.
      const joined = await client.request(
        'join',
        { room: 'closed/news', since: { offset: 0, epoch: 'x' } },
        3,
      );
      expect(joined.data).toMatchObject({ room: 'closed/news', offset: 2 });
      // The connection stays usable.
      expect((await client.request('echo', 'ok', 4)).data).toBe('ok');
    } finally {
      await client.close();
    }
  });
});

describe('a restarted instance without Redis (e2e)', () => {
  it('answers a position of its previous life with recovered:false in a new epoch; a GatewayClient is told and goes on from offset 1', async () => {
    const room = 'mem/restart';
    let app = await startApp({ gateway: GATEWAY });
    const port = app.port;
    const client = new GatewayClient({
      url: app.wsUrl,
      token: TEST_TOKEN,
      reconnect: FAST_RECONNECT,
    });
    const raw: TestClient[] = [];
    try {
      const seen: Pushed[] = [];
      const recoveries: RoomRecovery[] = [];
      client.onPush('message', (data) => seen.push(data as unknown as Pushed));
      client.on('recovery', (r) => recoveries.push(r));
      await client.connect();
      const { epoch } = (await client.join(room)) as Position;
      const member = await connect(app.wsUrl, { token: TEST_TOKEN });
      raw.push(member);
      await member.request('join', { room }, 1);
      const publisher = await connect(app.wsUrl, { token: TEST_TOKEN });
      raw.push(publisher);
      await publishMany(publisher, room, 5);
      await vi.waitFor(() => expect(seen).toHaveLength(5), WAIT);
      await nextMessages(member, 5);

      const reconnected = nextEvent(client, 'reconnected', 10_000);
      await app.close();
      app = await startApp({ gateway: GATEWAY, port });

      // Raw: join since and resume with the old position.
      const back = await connect(app.wsUrl, { token: TEST_TOKEN });
      raw.push(back);
      const joined = await joinSince(back, room, { offset: 5, epoch }, 'j');
      expect(joined.before).toEqual([]);
      const position = joined.reply.data as Position;
      expect(position).toEqual({
        room,
        offset: 0,
        epoch: expect.any(String),
        recovered: false,
      });
      expect(position.epoch).not.toBe(epoch);
      const resumed = await back.request(
        'resume',
        { rooms: [{ room: 'mem/restart-2', since: { offset: 5, epoch } }] },
        'r',
      );
      expect(resumed.data).toEqual({
        rooms: [
          {
            room: 'mem/restart-2',
            offset: 0,
            epoch: expect.any(String),
            recovered: false,
          },
        ],
      });

      // The GatewayClient reconnects on its own: not recovered, a new epoch, no `missed`.
      expect(await reconnected).toMatchObject({ rooms: [room] });
      expect(recoveries).toEqual([
        {
          room,
          recovered: false,
          position: { offset: 0, epoch: position.epoch },
        },
      ]);
      const publisher2 = await connect(app.wsUrl, { token: TEST_TOKEN });
      raw.push(publisher2);
      await publishMany(publisher2, room, 3, 5);
      expectRun(await nextMessages(back, 3), room, 1, 5);
      await vi.waitFor(() => expect(seen).toHaveLength(8), WAIT);
      expectRun(seen.slice(5), room, 1, 5);
      expect(client.position(room)).toEqual({
        offset: 3,
        epoch: position.epoch,
      });
    } finally {
      await client.close();
      await Promise.all(raw.map((c) => c.close()));
      await app.close();
    }
  });
});
