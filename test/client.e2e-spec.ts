import { SignJWT } from 'jose';
import { createServer, type AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import {
  ConnectionClosedError,
  GatewayClient,
  HandshakeRefusedError,
  QueueFullError,
  RequestError,
  RequestTimeoutError,
  type GatewayClientOptions,
} from '../src/client/index.js';
import { ClientProbeGateway } from './support/client-probe.gateway.js';
import {
  nextEvent,
  nextPush,
  recordLifecycle,
  settle,
} from './support/client-events.js';
import {
  startApp,
  TEST_TOKEN,
  type RunningApp,
  type StartOptions,
} from './support/start-app.js';
import { connect } from './support/ws-client.js';

/** Short backoff, so that reconnection tests take milliseconds, not seconds. */
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };

/** A test app: the service plus the probe gateway, with a rate limit that lets 500 requests in. */
function startProbeApp(options: StartOptions = {}): Promise<RunningApp> {
  return startApp({
    ...options,
    gateway: {
      rateLimit: { perSecond: 100_000, burst: 100_000 },
      ...options.gateway,
    },
    providers: [ClientProbeGateway],
  });
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('GatewayClient against the real gateway (e2e)', () => {
  let gateway: RunningApp;
  const clients: GatewayClient[] = [];

  function newClient(
    options: Partial<GatewayClientOptions> = {},
    app: RunningApp = gateway,
  ): GatewayClient {
    const client = new GatewayClient({
      url: app.wsUrl,
      token: TEST_TOKEN,
      reconnect: FAST_RECONNECT,
      ...options,
    });
    clients.push(client);
    return client;
  }

  async function connected(
    options: Partial<GatewayClientOptions> = {},
    app: RunningApp = gateway,
  ): Promise<GatewayClient> {
    const client = newClient(options, app);
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    gateway = await startProbeApp();
  });
  afterAll(async () => {
    await gateway.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  describe('requests', () => {
    it('resolves a request with the data of its reply (token in the Authorization header)', async () => {
      const client = await connected();
      expect(client.state).toBe('open');
      expect(await client.request('echo', { text: 'hello', n: [1] })).toEqual({
        text: 'hello',
        n: [1],
      });
    });

    it('presents the token as ?token= with a given WebSocket class, as in a browser', async () => {
      const client = await connected({
        WebSocket: WebSocket as unknown as GatewayClientOptions['WebSocket'],
      });
      expect(await client.request('echo', 'via query')).toBe('via query');
    });

    it('matches 500 concurrent requests on one connection to their own replies, errors included', async () => {
      const client = await connected();
      const count = 500;
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          settle(
            i % 10 === 9
              ? client.request(`missing.${i}`, i)
              : client.request('echo', { i }),
          ),
        ),
      );
      results.forEach((result, i) => {
        if (i % 10 === 9) {
          expect(result.error).toBeInstanceOf(RequestError);
          expect((result.error as RequestError).code).toBe('UNKNOWN_EVENT');
          expect((result.error as RequestError).event).toBe(`missing.${i}`);
        } else {
          expect(result.value).toEqual({ i });
        }
      });
      expect(client.pendingRequests).toBe(0);
    });

    it('rejects with a RequestError carrying the protocol code and details; the connection stays usable', async () => {
      const client = await connected();
      const unknown = await settle(client.request('no.such.event'));
      expect(unknown.error).toBeInstanceOf(RequestError);
      expect(unknown.error).toMatchObject({ code: 'UNKNOWN_EVENT' });

      const bad = await settle(client.join('no spaces allowed'));
      expect(bad.error).toBeInstanceOf(RequestError);
      const error = bad.error as RequestError;
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.details?.[0]?.field).toBe('room');
      expect(client.rooms).toEqual([]);

      expect(await client.request('echo', 'still here')).toBe('still here');
    });

    it('rejects with RequestTimeoutError when no reply comes in time, and drops the late reply', async () => {
      const client = await connected();
      const late = new Promise<string>((resolve) =>
        client.on('frame', (text) => {
          if (text.includes('"late"')) resolve(text);
        }),
      );
      const started = Date.now();
      const result = await settle(
        client.request('client-probe.slow', { ms: 300 }, { timeoutMs: 50 }),
      );
      expect(result.error).toBeInstanceOf(RequestTimeoutError);
      expect(result.error).toMatchObject({
        event: 'client-probe.slow',
        timeoutMs: 50,
      });
      expect(Date.now() - started).toBeLessThan(300);
      expect(client.pendingRequests).toBe(0);
      // The reply arrives after all, and is dropped: nothing else is disturbed.
      await late;
      expect(await client.request('echo', 'after')).toBe('after');
    });

    it('times out a request that never gets an answer, with the default timeout option', async () => {
      const client = await connected({ requestTimeoutMs: 60 });
      const result = await settle(client.request('client-probe.never'));
      expect(result.error).toBeInstanceOf(RequestTimeoutError);
    });
  });

  describe('pushes', () => {
    it('delivers broadcast, room messages and a host event to onPush() handlers; its remover and offPush() stop them', async () => {
      const alice = await connected();
      const bob = await connected();
      await alice.join('lobby');
      expect(alice.rooms).toEqual(['lobby']);

      const broadcast = nextPush(alice, 'broadcast');
      expect(await bob.broadcast({ text: 'hi all' })).toMatchObject({
        instances: 1,
      });
      expect(await broadcast).toMatchObject({ data: { text: 'hi all' } });

      const message = nextPush(alice, 'message');
      expect(await bob.publish('lobby', 'in the lobby')).toMatchObject({
        room: 'lobby',
        recipients: 1,
      });
      expect(await message).toMatchObject({
        room: 'lobby',
        data: 'in the lobby',
      });

      const ticks: unknown[] = [];
      const tocks: unknown[] = [];
      const tock = (data: unknown) => tocks.push(data);
      const off = alice.onPush('probe.tick', (data) => ticks.push(data));
      alice.onPush('probe.tick', tock);
      await alice.request('client-probe.push', {
        event: 'probe.tick',
        data: 1,
      });
      off();
      alice.offPush('probe.tick', tock);
      await alice.request('client-probe.push', {
        event: 'probe.tick',
        data: 2,
      });
      expect(ticks).toEqual([1]);
      expect(tocks).toEqual([1]);

      await alice.leave('lobby');
      expect(alice.rooms).toEqual([]);
    });

    it('delivers a push of any event name to the app, lifecycle names included, and never to lifecycle handlers', async () => {
      const client = await connected();
      const lifecycle = [
        'open',
        'close',
        'connectError',
        'reconnecting',
        'reconnected',
        'reconnectFailed',
        'tokenExpired',
        'state',
        'frame',
        'text',
      ] as const;
      const names = [
        ...lifecycle,
        'broadcast',
        'message',
        'error',
        'game.state',
        'push:state',
        '',
        '__proto__',
        'constructor',
        'état ✓',
      ];
      const seen: string[] = [];
      for (const event of lifecycle) {
        if (event !== 'frame') client.on(event, () => seen.push(event));
      }
      const frames: string[] = [];
      client.on('frame', (text) => frames.push(text));

      for (const event of names) {
        const pushed = nextPush(client, event);
        await client.request('client-probe.push', {
          event,
          data: { pushed: event },
        });
        expect(await pushed).toEqual({ pushed: event });
      }
      // Each push was also one frame, and no lifecycle handler took one for its own event.
      expect(seen).toEqual([]);
      expect(
        frames
          .filter((text) => !text.includes('"id"'))
          .map((text) => JSON.parse(text).event),
      ).toEqual(names);
      expect(client.state).toBe('open');
    });

    it('delivers an error frame without id (a send() with no reply awaited) as an "error" push', async () => {
      const client = await connected();
      const error = nextPush(client, 'error');
      client.send('no.such.event', {});
      expect(await error).toMatchObject({ code: 'UNKNOWN_EVENT' });
    });
  });

  describe('refused and closed connections', () => {
    it('rejects connect() with HandshakeRefusedError on 401 and never tries again', async () => {
      const client = newClient({ token: 'not-the-token' });
      const seen = recordLifecycle(client);
      const queued = settle(client.request('echo', 'never sent'));
      const result = await settle(client.connect());
      expect(result.error).toBeInstanceOf(HandshakeRefusedError);
      expect((result.error as HandshakeRefusedError).status).toBe(401);
      expect(client.state).toBe('closed');
      expect(seen).toEqual(['connectError']);
      expect((await queued).error).toBeInstanceOf(HandshakeRefusedError);
      // Closed for good: a send is refused at once, not queued.
      await expect(client.request('echo')).rejects.toBeInstanceOf(
        HandshakeRefusedError,
      );
    });

    it('does not reconnect after 1008 (flooding past the rate limit); requests in flight reject', async () => {
      const strict = await startProbeApp({
        gateway: { rateLimit: { perSecond: 1, burst: 2 } },
      });
      try {
        const client = await connected({}, strict);
        const seen = recordLifecycle(client);
        const closed = nextEvent(client, 'close');
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            settle(client.request('echo', i)),
          ),
        );
        expect(await closed).toEqual({
          code: 1008,
          reason: 'rate limit exceeded',
          willReconnect: false,
        });
        // The burst's two are let through (answered, unless the close overtakes their replies),
        // the next two get RATE_LIMITED error frames, the fifth closes the connection: what was
        // in flight then is rejected with the close.
        results.slice(0, 2).forEach((r, i) => {
          if (r.error === undefined) expect(r.value).toBe(i);
          else expect(r.error).toMatchObject({ closeCode: 1008 });
        });
        for (const r of results.slice(2, 4)) {
          expect(r.error).toBeInstanceOf(RequestError);
          expect(r.error).toMatchObject({ code: 'RATE_LIMITED' });
        }
        for (const r of results.slice(4)) {
          expect(r.error).toBeInstanceOf(ConnectionClosedError);
          expect(r.error).toMatchObject({ closeCode: 1008 });
        }
        expect(client.state).toBe('closed');
        expect(seen).toEqual(['close']);
      } finally {
        await strict.close();
      }
    });

    it('reconnects after backoff on 1013 but not on a 1000 from the server', async () => {
      const client = await connected();
      const seen = recordLifecycle(client);
      const reconnecting = nextEvent(client, 'reconnecting');
      const reconnected = nextEvent(client, 'reconnected');
      client.send('client-probe.close', { code: 1013, reason: 'slow down' });
      const retry = await reconnecting;
      expect(retry.attempt).toBe(1);
      expect(retry.delayMs).toBeGreaterThanOrEqual(10);
      expect(retry.delayMs).toBeLessThanOrEqual(20);
      expect(retry.error).toMatchObject({ closeCode: 1013 });
      await reconnected;
      expect(seen).toEqual(['close', 'reconnecting', 'open', 'reconnected']);
      expect(await client.request('echo', 'back')).toBe('back');

      const closed = nextEvent(client, 'close');
      client.send('client-probe.close', { code: 1000, reason: 'done' });
      expect(await closed).toEqual({
        code: 1000,
        reason: 'done',
        willReconnect: false,
      });
      expect(client.state).toBe('closed');
      await expect(client.request('echo')).rejects.toMatchObject({
        closeCode: 1000,
      });
    });

    it('gives up after maxRetries, emitting reconnectFailed, and rejects what is queued', async () => {
      const port = await closedPort();
      const client = newClient({
        url: `ws://127.0.0.1:${port}/`,
        reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxRetries: 3 },
      });
      const failed = nextEvent(client, 'reconnectFailed');
      const queued = settle(client.request('echo', 'x'));
      const result = await settle(client.connect());
      expect(result.error).toBeInstanceOf(ConnectionClosedError);
      expect(result.error).toMatchObject({ closeCode: 1006 });
      expect((await failed).attempts).toBe(3);
      expect((await queued).error).toBe(result.error);
      expect(client.state).toBe('closed');
    });
  });

  describe('the queue while disconnected', () => {
    it('queues up to maxQueuedMessages, refuses the next with QueueFullError, and sends the queue on connect, in order', async () => {
      const client = newClient({ maxQueuedMessages: 3 });
      expect(client.state).toBe('idle');
      const queued = [1, 2, 3].map((n) => client.request('echo', n));
      const order: number[] = [];
      queued.forEach((p) => void p.then((n) => order.push(n as number)));
      await expect(client.request('echo', 4)).rejects.toBeInstanceOf(
        QueueFullError,
      );
      expect(() => client.send('echo', 5)).toThrow(QueueFullError);
      expect(client.queuedMessages).toBe(3);

      await client.connect();
      expect(await Promise.all(queued)).toEqual([1, 2, 3]);
      expect(order).toEqual([1, 2, 3]);
      expect(client.queuedMessages).toBe(0);
    });

    it('times out a queued request, and takes it out of the queue', async () => {
      const client = newClient({ maxQueuedMessages: 1 });
      const result = await settle(
        client.request('echo', 'waits', { timeoutMs: 20 }),
      );
      expect(result.error).toBeInstanceOf(RequestTimeoutError);
      expect(client.queuedMessages).toBe(0);
      // The place it held is free again.
      const next = client.request('echo', 'fits');
      await client.connect();
      expect(await next).toBe('fits');
    });
  });

  describe('reconnection', () => {
    it('survives a server restart on the same port: in-flight requests reject, queued ones go out, rooms are joined again, pushes flow', async () => {
      const first = await startProbeApp();
      let second: RunningApp | undefined;
      try {
        const client = await connected(
          { reconnect: { ...FAST_RECONNECT, maxRetries: Infinity } },
          first,
        );
        await client.join('lobby');
        await client.join('news');
        const seen = recordLifecycle(client);
        const states: string[] = [];
        client.on('state', ({ state }) => states.push(state));

        const inFlight = settle(client.request('client-probe.never'));
        const closed = nextEvent(client, 'close');
        const reconnected = nextEvent(client, 'reconnected', 15_000);
        await first.close();

        expect(await closed).toEqual({
          code: 1001,
          reason: expect.any(String),
          willReconnect: true,
        });
        const dropped = (await inFlight).error;
        expect(dropped).toBeInstanceOf(ConnectionClosedError);
        expect(dropped).toMatchObject({ closeCode: 1001 });

        // While the server is away a request waits in the queue.
        expect(client.state).toBe('reconnecting');
        const queued = client.request('echo', 'sent after the restart', {
          timeoutMs: 15_000,
        });
        expect(client.queuedMessages).toBe(1);

        second = await startProbeApp({ port: first.port });
        const info = await reconnected;
        expect(info.rooms.sort()).toEqual(['lobby', 'news']);
        expect(info.failedRooms).toEqual([]);
        expect(info.attempts).toBeGreaterThanOrEqual(1);
        expect(await queued).toBe('sent after the restart');
        expect(client.state).toBe('open');
        expect(seen[0]).toBe('close');
        expect(seen.slice(-2)).toEqual(['open', 'reconnected']);
        expect(
          seen
            .slice(1, -2)
            .every((e) => e === 'reconnecting' || e === 'connectError'),
        ).toBe(true);
        expect(states[0]).toBe('reconnecting');
        expect(states.at(-1)).toBe('open');

        // Pushes flow again, from a client of the new server.
        const other = await connect(second.wsUrl, { token: TEST_TOKEN });
        try {
          const message = nextPush(client, 'message');
          other.sendJson({
            event: 'publish',
            data: { room: 'news', data: 'fresh' },
            id: 1,
          });
          expect(await message).toMatchObject({ room: 'news', data: 'fresh' });
          const broadcast = nextPush(client, 'broadcast');
          other.sendJson({ event: 'broadcast', data: 'everyone', id: 2 });
          expect(await broadcast).toMatchObject({ data: 'everyone' });
        } finally {
          await other.close();
        }
      } finally {
        await Promise.all(clients.splice(0).map((c) => c.close()));
        await second?.close();
      }
    });

    it('on 4401 (a JWT that expires) emits tokenExpired and waits; connect({ token }) rejoins the rooms and sends the queue', async () => {
      const secret = 'a-test-secret-of-at-least-32-bytes!!';
      const key = new TextEncoder().encode(secret);
      const jwtFor = (seconds: number) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('alice')
          .setExpirationTime(Math.ceil(Date.now() / 1000) + seconds)
          .sign(key);
      // The config passes the verifier's options through, a clock tolerance of 0 included, so
      // that the token runs out within two seconds.
      const jwt = {
        secret,
        publicKey: undefined,
        jwksUrl: undefined,
        issuer: undefined,
        audience: undefined,
        clockToleranceSec: 0,
      };
      const app = await startProbeApp({ gateway: { auth: { jwt } } });
      try {
        const client = await connected({ token: await jwtFor(1) }, app);
        await client.join('lobby');
        const seen = recordLifecycle(client);
        const closed = nextEvent(client, 'close');
        const expired = nextEvent(client, 'tokenExpired');

        expect(await closed).toMatchObject({
          code: 4401,
          willReconnect: false,
        });
        expect(await expired).toMatchObject({ code: 4401 });
        expect(client.state).toBe('closed');
        // No reconnection on its own: the app decides, with a fresh token.
        expect(seen).toEqual(['close', 'tokenExpired']);

        const queued = client.request('echo', 'after the refresh');
        const reconnected = nextEvent(client, 'reconnected');
        await client.connect({ token: await jwtFor(60) });
        expect((await reconnected).rooms).toEqual(['lobby']);
        expect(await queued).toBe('after the refresh');
        expect(await client.request('echo', 'fresh')).toBe('fresh');
      } finally {
        await Promise.all(clients.splice(0).map((c) => c.close()));
        await app.close();
      }
    });

    it('rejects in-flight requests and stops for good on close()', async () => {
      const client = await connected();
      const inFlight = settle(client.request('client-probe.never'));
      await client.close();
      expect((await inFlight).error).toMatchObject({
        closeCode: 1000,
        closeReason: 'client closed',
      });
      expect(client.state).toBe('closed');
      expect(client.rooms).toEqual([]);
      expect(() => client.send('echo')).toThrow(ConnectionClosedError);
    });
  });
});
