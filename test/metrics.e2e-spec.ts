import { BroadcastService } from '../src/gateway/broadcast/broadcast.service.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../src/gateway/bus/in-memory-message-bus.js';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { getJson } from './support/http.js';
import { sample, sampleDelta, scrapeMetrics } from './support/metrics.js';
import {
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import {
  startApp,
  TEST_TOKEN,
  type RunningApp,
  type StartOptions,
} from './support/start-app.js';
import {
  connect,
  handshakeStatus,
  type TestClient,
} from './support/ws-client.js';

describe('GET /metrics moves when things happen (e2e)', () => {
  let gateway: RunningApp;
  const scrape = async () =>
    (await getJson(gateway.httpUrl, '/metrics')).body as string;

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('serves Prometheus text with the gateway and process metrics', async () => {
    const res = await fetch(`${gateway.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(
      /^text\/plain; version=0\.0\.4/,
    );
    const text = await res.text();
    expect(text).toContain('# TYPE gateway_connections_open gauge');
    expect(text).toContain('# TYPE gateway_messages_in_total counter');
    expect(text).toContain('process_cpu_seconds_total');
    expect(sample(text, 'gateway_bus_up')).toBe(1);
  });

  it('counts connections, messages by event, errors by code, bytes and fan-out', async () => {
    const before = await scrape();
    const a = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const b = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect(sample(await scrape(), 'gateway_connections_open')).toBe(2);

    await a.request('echo', 'x', 1);
    await a.request('echo', 'y', 2);
    a.send('plain');
    await a.next();
    await a.request('nope', null, 3);
    a.send('{broken');
    await a.next();
    await a.request('broadcast', 'all', 4);
    await b.nextJson();
    await a.request('join', { room: '' }, 5);

    const after = await scrape();
    const delta = (name: string, labels = '') =>
      (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(delta('gateway_connections_total')).toBe(2);
    expect(delta('gateway_messages_in_total', '{event="echo"}')).toBe(2);
    expect(delta('gateway_messages_in_total', '{event="text"}')).toBe(1);
    expect(delta('gateway_messages_in_total', '{event="unknown"}')).toBe(1);
    expect(delta('gateway_messages_in_total', '{event="invalid"}')).toBe(1);
    expect(delta('gateway_messages_in_total', '{event="broadcast"}')).toBe(1);
    expect(delta('gateway_messages_in_total', '{event="join"}')).toBe(1);
    expect(delta('gateway_errors_total', '{code="UNKNOWN_EVENT"}')).toBe(1);
    expect(delta('gateway_errors_total', '{code="BAD_REQUEST"}')).toBe(2);
    expect(delta('gateway_messages_out_total', '{event="echo"}')).toBe(2);
    expect(delta('gateway_messages_out_total', '{event="broadcast"}')).toBe(2);
    expect(delta('gateway_messages_out_total', '{event="text"}')).toBe(1);
    expect(delta('gateway_messages_out_total', '{event="error"}')).toBe(3);
    expect(delta('gateway_bytes_in_total')).toBeGreaterThan(100);
    expect(delta('gateway_bytes_out_total')).toBeGreaterThan(100);
    expect(delta('gateway_fanout_recipients_count', '{kind="broadcast"}')).toBe(
      1,
    );
    expect(delta('gateway_fanout_recipients_sum', '{kind="broadcast"}')).toBe(
      1,
    );

    await Promise.all([a.close(), b.close()]);
  });

  it('counts the bytes of multi-byte text as they went out, and delivers it as sent', async () => {
    const a = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const b = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const text = 'héllo wörld 😀 世界 \u2028 "quoted" \\';
    const before = await scrape();
    a.sendJson({ event: 'echo', data: { text }, id: 1 });
    const echoed = await a.next();
    a.sendJson({ event: 'broadcast', data: text, id: 2 });
    const [receipt, pushed] = await Promise.all([a.next(), b.next()]);
    const after = await scrape();
    expect(JSON.parse(echoed)).toEqual({
      event: 'echo',
      data: { text },
      id: 1,
    });
    expect(JSON.parse(pushed)).toMatchObject({
      event: 'broadcast',
      data: { data: text },
    });
    // Every byte that went out: the echo, the receipt, the push; UTF-8, not UTF-16 units.
    const bytes = [echoed, receipt, pushed].reduce(
      (n, frame) => n + Buffer.byteLength(frame),
      0,
    );
    expect(bytes).toBeGreaterThan(
      echoed.length + receipt.length + pushed.length,
    );
    expect(
      (sample(after, 'gateway_bytes_out_total') ?? 0) -
        (sample(before, 'gateway_bytes_out_total') ?? 0),
    ).toBe(bytes);
    await Promise.all([a.close(), b.close()]);
  });

  it('counts refused handshakes by reason', async () => {
    const before = await scrape();
    await handshakeStatus(gateway.wsUrl);
    await handshakeStatus(gateway.wsUrl, { token: 'wrong' });
    await handshakeStatus(gateway.wsUrl, { token: 'wrong' });
    await handshakeStatus(`ws://127.0.0.1:${gateway.port}/other`, {
      token: TEST_TOKEN,
    });
    const after = await scrape();
    const delta = (reason: string) =>
      (sample(
        after,
        'gateway_handshake_rejections_total',
        `{reason="${reason}"}`,
      ) ?? 0) -
      (sample(
        before,
        'gateway_handshake_rejections_total',
        `{reason="${reason}"}`,
      ) ?? 0);
    expect(delta('missing_token')).toBe(1);
    expect(delta('invalid_token')).toBe(2);
    expect(delta('path')).toBe(1);
  });
});

/** Rooms under live/ keep no history: their messages go over the bus as broadcasts do. */
const history = {
  retention: (room: string) =>
    room.startsWith('live/') ? { size: 0 } : undefined,
};

/**
 * The start options of two instances that reach each other, one pair per kind of bus, and
 * whether a room message with history goes through that bus: the in-memory history store
 * publishes through it, while with Redis the history store's script appends and publishes in
 * one step, past the gateway's bus (and its gateway_bus_published_total).
 */
const pairs: Array<
  [string, () => [StartOptions, StartOptions], { historyOverBus: boolean }]
> = [
  [
    'an in-memory hub',
    () => {
      const hub = new InMemoryHub();
      return [
        { bus: new InMemoryMessageBus(hub), gateway: { history } },
        { bus: new InMemoryMessageBus(hub), gateway: { history } },
      ];
    },
    { historyOverBus: true },
  ],
  [
    'Redis',
    () => {
      const gateway = {
        redis: { url: SHARED_REDIS_URL, channelPrefix: uniqueChannelPrefix() },
        history,
      };
      return [{ gateway }, { gateway }];
    },
    { historyOverBus: false },
  ],
];

describe.each(pairs)(
  'gateway_delivery_latency_seconds with two instances on %s (e2e)',
  (_, options, { historyOverBus }) => {
    const LATENCY = 'gateway_delivery_latency_seconds';
    let one: RunningApp;
    let two: RunningApp;
    let sender: TestClient;
    let receiver: TestClient;
    let senderId: string;
    let receiverId: string;

    beforeAll(async () => {
      [one, two] = await Promise.all(options().map((o) => startApp(o)));
      sender = await connect(one.wsUrl, { token: TEST_TOKEN });
      senderId = one.app.get(ConnectionRegistry).all().at(-1)!.id;
      receiver = await connect(two.wsUrl, { token: TEST_TOKEN });
      receiverId = two.app.get(ConnectionRegistry).all().at(-1)!.id;
      await receiver.request('join', { room: 'measured' }, 'j');
      await receiver.request('join', { room: 'live/measured' }, 'j');
    });
    afterAll(async () => {
      await Promise.all([sender?.close(), receiver?.close()]);
      await Promise.all([one?.close(), two?.close()]);
    });

    /**
     * Runs one fan-out from instance one to the client on instance two and reads both histograms:
     * the receiving instance observes the message once, in a bucket of at most 2.5 s; the
     * publishing instance observes nothing.
     */
    async function expectMeasured(event: string, send: () => Promise<unknown>) {
      const before = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      await send();
      expect((await receiver.nextJson()).event).toBe(event);
      const after = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      expect(sampleDelta(before[1], after[1], `${LATENCY}_count`)).toBe(1);
      expect(
        sampleDelta(before[1], after[1], `${LATENCY}_bucket`, '{le="2.5"}'),
      ).toBe(1);
      expect(
        sampleDelta(before[1], after[1], `${LATENCY}_sum`),
      ).toBeGreaterThanOrEqual(0);
      expect(sampleDelta(before[0], after[0], `${LATENCY}_count`)).toBe(0);
    }

    it('measures a broadcast', async () => {
      await expectMeasured('broadcast', () =>
        sender.request('broadcast', 'all', 'b'),
      );
    });

    it('measures a room message', async () => {
      await expectMeasured('message', () =>
        sender.request('publish', { room: 'measured', data: 'in' }, 'p'),
      );
    });

    it('measures a direct message', async () => {
      await expectMeasured('notice', () =>
        one.app
          .get(BroadcastService)
          .sendToConnection(receiverId, 'notice', 'just you'),
      );
    });

    it('counts what goes over the bus: published on the sender, received on the receiver', async () => {
      const BUS = 'gateway_bus';
      const before = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      await sender.request('broadcast', 'all', 'b');
      await receiver.nextJson();
      await sender.request(
        'publish',
        { room: 'live/measured', data: 'in' },
        'p',
      );
      // Without history: no offset.
      expect(await receiver.nextJson()).toEqual({
        event: 'message',
        data: { room: 'live/measured', from: senderId, data: 'in' },
      });
      await one.app
        .get(BroadcastService)
        .sendToConnection(receiverId, 'notice', 'just you');
      await receiver.nextJson();
      const after = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      const delta = (i: number, name: string) =>
        sampleDelta(before[i], after[i], `${BUS}_${name}_total`);
      expect(delta(0, 'published')).toBe(3);
      expect(delta(0, 'publish_failures')).toBe(0);
      expect(delta(0, 'received')).toBe(0);
      expect(delta(1, 'published')).toBe(0);
      expect(delta(1, 'received')).toBe(3);
      // Nothing of that was kept: a broadcast, a room without history, a direct message.
      for (const i of [0, 1])
        expect(
          sampleDelta(before[i], after[i], 'gateway_history_appended_total'),
        ).toBe(0);
    });

    it('counts a room message with history as appended on the sender, received on the receiver', async () => {
      const before = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      const ack = await sender.request(
        'publish',
        { room: 'measured', data: 'kept' },
        'h',
      );
      const { offset } = ack.data as { offset: number };
      expect(offset).toBeGreaterThan(0);
      expect(await receiver.nextJson()).toEqual({
        event: 'message',
        data: { room: 'measured', from: senderId, data: 'kept', offset },
      });
      const after = await Promise.all(
        [one, two].map((a) => scrapeMetrics(a.httpUrl)),
      );
      const delta = (i: number, name: string) =>
        sampleDelta(before[i], after[i], name);
      expect(delta(0, 'gateway_history_appended_total')).toBe(1);
      expect(delta(1, 'gateway_history_appended_total')).toBe(0);
      expect(delta(0, 'gateway_bus_published_total')).toBe(
        historyOverBus ? 1 : 0,
      );
      expect(delta(0, 'gateway_bus_publish_failures_total')).toBe(0);
      expect(delta(1, 'gateway_bus_published_total')).toBe(0);
      // However it was published, the receiver takes it from its bus subscription.
      expect(delta(1, 'gateway_bus_received_total')).toBe(1);
    });
  },
);
