import { connect as tcpConnect } from 'node:net';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { RoomsService } from '../src/gateway/rooms/rooms.service.js';
import { eventually } from './support/eventually.js';
import { sampleDelta, scrapeMetrics } from './support/metrics.js';
import {
  frame,
  Opcode,
  rawHandshake,
  RawWsClient,
  upgradeRequest,
} from './support/raw-client.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import {
  connect,
  HandshakeRefused,
  handshakeStatus,
  type TestClient,
} from './support/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Origin allow-list: 403 at the handshake (e2e)', () => {
  const ALLOWED = 'https://app.example.com';
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({ gateway: { allowedOrigins: [ALLOWED] } });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('a foreign Origin gets 403 and no socket, a valid token notwithstanding', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const { answer, ended } = await rawHandshake(gateway.wsUrl, {
      token: TEST_TOKEN,
      headers: { Origin: 'https://evil.example.net' },
    });
    expect(answer.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(answer.headers.upgrade).toBeUndefined();
    expect(await ended).toBe('end');
    // Near misses of the listed origin are foreign too.
    for (const origin of [
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com.evil.net',
      'null',
    ]) {
      const refused = await handshakeStatus(gateway.wsUrl, {
        token: TEST_TOKEN,
        headers: { Origin: origin },
      });
      expect(refused).toBeInstanceOf(HandshakeRefused);
      expect((refused as HandshakeRefused).status).toBe(403);
    }
    expect(registry.size).toBe(0);
    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_handshake_rejections_total',
        '{reason="origin"}',
      ),
    ).toBe(5);
  });

  it('the listed Origin is accepted', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      headers: { Origin: ALLOWED },
    });
    expect(await client.request('echo', 'from the app', 1)).toEqual({
      event: 'echo',
      data: 'from the app',
      id: 1,
    });
    client.close(1000);
    expect(await client.closed).toBe(1000);
  });

  it('no Origin at all (a non-browser client) is accepted', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    expect(await client.request('echo', 'cli', 2)).toEqual({
      event: 'echo',
      data: 'cli',
      id: 2,
    });
    client.close(1000);
    expect(await client.closed).toBe(1000);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('maxConnections: 503 past the limit, accepted again below it (e2e)', () => {
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({ gateway: { maxConnections: 3 } });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('the 4th handshake gets 503 with Retry-After; after a close a new one gets in', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const clients = await Promise.all(
      [1, 2, 3].map(() => connect(gateway.wsUrl, { token: TEST_TOKEN })),
    );
    expect(registry.size).toBe(3);

    const { answer, ended } = await rawHandshake(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    expect(answer.statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(answer.headers['retry-after']).toBe('5');
    await ended;
    const second = await handshakeStatus(gateway.wsUrl, { token: TEST_TOKEN });
    expect((second as HandshakeRefused).status).toBe(503);
    expect(registry.size).toBe(3);

    // The refused ones changed nothing for those inside.
    expect(await clients[0].request('echo', 'inside', 1)).toMatchObject({
      data: 'inside',
    });

    await clients[2].close();
    await eventually(() => registry.size === 2, 'the closed one to leave');
    const newcomer = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect(await newcomer.request('echo', 'in again', 2)).toMatchObject({
      data: 'in again',
    });
    expect(registry.size).toBe(3);

    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_handshake_rejections_total',
        '{reason="capacity"}',
      ),
    ).toBe(2);
    await Promise.all([
      clients[0].close(),
      clients[1].close(),
      newcomer.close(),
    ]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('maxConnectionsPerPrincipal: one token cannot take every slot (e2e)', () => {
  const OTHER_TOKEN = 'other-token-9876543210';
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    // The review's case, scaled down: without the cap, one token held every slot of 5.
    gateway = await startApp({
      gateway: {
        maxConnections: 5,
        maxConnectionsPerPrincipal: 2,
        auth: { tokens: [TEST_TOKEN, OTHER_TOKEN] },
      },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('a third connection of one token gets 429 with Retry-After; another token still gets in', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const first = await Promise.all(
      [1, 2].map(() => connect(gateway.wsUrl, { token: TEST_TOKEN })),
    );
    const { answer, ended } = await rawHandshake(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    expect(answer.statusLine).toBe('HTTP/1.1 429 Too Many Requests');
    expect(answer.headers['retry-after']).toBe('10');
    expect(answer.headers.upgrade).toBeUndefined();
    await ended;
    // A burst of the same token, all at once, does not get past the cap either.
    const burst = await Promise.all(
      [1, 2, 3].map(() =>
        handshakeStatus(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
    expect(burst.map((r) => (r as HandshakeRefused).status)).toEqual([
      429, 429, 429,
    ]);
    expect(registry.size).toBe(2);

    const other = await connect(gateway.wsUrl, { token: OTHER_TOKEN });
    expect(await other.request('echo', 'still room', 1)).toMatchObject({
      data: 'still room',
    });
    // The refused ones changed nothing for those inside.
    expect(await first[0].request('echo', 'inside', 2)).toMatchObject({
      data: 'inside',
    });

    await first[1].close();
    await eventually(() => registry.size === 2, 'the closed one to leave');
    const again = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect(registry.size).toBe(3);

    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_handshake_rejections_total',
        '{reason="principal_limit"}',
      ),
    ).toBe(4);
    await Promise.all([first[0].close(), other.close(), again.close()]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('maxConnectionsPerAddress: 429 for one address over its cap, others unaffected (e2e)', () => {
  const OTHER_TOKEN = 'other-token-9876543210';
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        maxConnectionsPerAddress: 2,
        auth: { tokens: [TEST_TOKEN, OTHER_TOKEN] },
      },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  // Loopback is all of 127/8 on Linux: a client bound to 127.0.0.2 is another address.
  const from = (localAddress: string) => ({ wsOptions: { localAddress } });

  it('a third connection from one address gets 429 whatever its token; another address gets in', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const inside = await Promise.all([
      connect(gateway.wsUrl, { token: TEST_TOKEN }),
      connect(gateway.wsUrl, { token: OTHER_TOKEN }),
    ]);
    for (const token of [TEST_TOKEN, OTHER_TOKEN, 'not-a-token']) {
      const refused = await handshakeStatus(gateway.wsUrl, { token });
      expect(refused).toBeInstanceOf(HandshakeRefused);
      expect((refused as HandshakeRefused).status).toBe(429);
      expect((refused as HandshakeRefused).headers['retry-after']).toBe('10');
    }
    expect(registry.size).toBe(2);

    const elsewhere = await connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      ...from('127.0.0.2'),
    });
    expect(await elsewhere.request('echo', 'other address', 1)).toMatchObject({
      data: 'other address',
    });
    expect(registry.size).toBe(3);

    await inside[0].close();
    await eventually(() => registry.size === 2, 'the closed one to leave');
    const again = await connect(gateway.wsUrl, { token: TEST_TOKEN });

    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_handshake_rejections_total',
        '{reason="address_limit"}',
      ),
    ).toBe(3);
    await Promise.all([inside[1].close(), elsewhere.close(), again.close()]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('rate limit: RATE_LIMITED with the id, then 1008 for a flood (e2e)', () => {
  const PER_SECOND = 5;
  const BURST = 5;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: { rateLimit: { perSecond: PER_SECOND, burst: BURST } },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('the request past the burst is refused with its id; after one refill period the connection serves again', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    for (let id = 1; id <= BURST + 1; id++)
      client.sendJson({ event: 'echo', data: id, id });
    // The refusal is sent at once, the replies when their handlers finish: any order.
    const frames = await Promise.all(
      Array.from({ length: BURST + 1 }, () => client.nextJson()),
    );
    const byId = new Map(frames.map((f) => [f.id, f]));
    for (let id = 1; id <= BURST; id++)
      expect(byId.get(id)).toEqual({ event: 'echo', data: id, id });
    expect(byId.get(BURST + 1)).toEqual({
      event: 'error',
      data: {
        code: 'RATE_LIMITED',
        message: `over ${PER_SECOND} messages per second (burst ${BURST}); slow down`,
      },
      id: BURST + 1,
    });

    // The bucket is empty (less than one token): one token comes back in 1000 / perSecond ms.
    await sleep(Math.ceil(1000 / PER_SECOND) + 20);
    expect(await client.request('echo', 'refilled', 'r')).toEqual({
      event: 'echo',
      data: 'refilled',
      id: 'r',
    });
    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_messages_in_total',
        '{event="rate_limited"}',
      ),
    ).toBe(1);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_errors_total',
        '{code="RATE_LIMITED"}',
      ),
    ).toBe(1);
    await client.close();
  });

  it('a client sending 200 messages at once gets burst refusals, then close 1008', async () => {
    const before = await scrapeMetrics(gateway.httpUrl);
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    for (let id = 1; id <= 200; id++)
      client.sendJson({ event: 'echo', data: id, id });
    expect(await client.closed).toEqual({
      code: 1008,
      reason: 'rate limit exceeded',
    });
    const refusals: unknown[] = [];
    while (client.pending > 0) {
      const f = await client.nextJson();
      if (f.event === 'error') refusals.push(f.data);
    }
    // More refused messages within one second than `burst`: the (burst + 1)th closes.
    expect(refusals).toHaveLength(BURST);
    expect(refusals).toEqual(
      Array.from({ length: BURST }, () =>
        expect.objectContaining({ code: 'RATE_LIMITED' }),
      ),
    );
    await eventually(() => registry.size === 0, 'the flooder to leave');
    const after = await scrapeMetrics(gateway.httpUrl);
    expect(
      sampleDelta(
        before,
        after,
        'gateway_messages_in_total',
        '{event="rate_limited"}',
      ),
    ).toBeGreaterThanOrEqual(BURST + 1);
  });
});

describe('byte and fan-out budgets: what a connection makes the server do (e2e)', () => {
  const BYTES_PER_SECOND = 100_000;
  const BYTES_BURST = 200_000;
  const FANOUT_PER_SECOND = 150_000;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        maxPayloadBytes: 100_000,
        rateLimit: {
          perSecond: 1_000,
          burst: 1_000,
          bytesPerSecond: BYTES_PER_SECOND,
          bytesBurst: BYTES_BURST,
          fanoutBytesPerSecond: FANOUT_PER_SECOND,
        },
      },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('bytes received: past the byte burst a request is refused with its id, within the message rate', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    const data = 'b'.repeat(90_000);
    client.write(
      Buffer.concat(
        [1, 2, 3].map((id) =>
          frame({
            opcode: Opcode.TEXT,
            payload: JSON.stringify({ event: 'echo', data, id }),
          }),
        ),
      ),
    );
    const answers = await Promise.all([1, 2, 3].map(() => client.nextJson()));
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(1)).toMatchObject({ event: 'echo', id: 1 });
    expect(byId.get(2)).toMatchObject({ event: 'echo', id: 2 });
    expect(byId.get(3)).toEqual({
      event: 'error',
      data: {
        code: 'RATE_LIMITED',
        message: `over ${BYTES_PER_SECOND} bytes per second (burst ${BYTES_BURST}); slow down`,
      },
      id: 3,
    });
    // Small messages still fit what is left of the bucket.
    expect(await client.request('echo', 'small', 4)).toEqual({
      event: 'echo',
      data: 'small',
      id: 4,
    });
    client.close(1000);
    await client.closed;
  });

  it('bytes received: refused bytes past the byte burst within a second close the connection 1008', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    const data = 'f'.repeat(95_000);
    client.write(
      Buffer.concat(
        Array.from({ length: 8 }, (_, i) =>
          frame({
            opcode: Opcode.TEXT,
            payload: JSON.stringify({ event: 'echo', data, id: i + 1 }),
          }),
        ),
      ),
    );
    // 2 accepted, 2 refused (190 kB refused), the 5th refusal passes the 200 kB burst: 1008.
    const frames: Record<string, unknown>[] = [];
    for (;;) {
      const f = await client.nextDataFrame();
      if (f.opcode === Opcode.CLOSE) {
        expect(f.code).toBe(1008);
        break;
      }
      frames.push(JSON.parse(f.text!) as Record<string, unknown>);
    }
    expect(frames.filter((f) => f.event === 'echo')).toHaveLength(2);
    expect(frames.filter((f) => f.event === 'error')).toHaveLength(2);
    await eventually(() => registry.size === 0, 'the flooder to leave');
  });

  it('fan-out: a broadcast to many is charged size x recipients; the next waits until it is paid back', async () => {
    const listeners = await Promise.all(
      Array.from({ length: 5 }, () =>
        connect(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const data = 'o'.repeat(50_000);
    // 5 x ~50 kB = ~250 kB out, past the 150 kB a second allows: a debt of ~100 kB.
    expect(await sender.request('broadcast', data, 1)).toMatchObject({
      event: 'broadcast',
      id: 1,
    });
    for (const l of listeners) await l.nextJson();
    expect(await sender.request('broadcast', 'tiny', 2)).toEqual({
      event: 'error',
      data: {
        code: 'RATE_LIMITED',
        message: `over ${FANOUT_PER_SECOND} bytes per second of fan-out (a message's size times its recipients); slow down`,
      },
      id: 2,
    });
    for (const l of listeners) await l.expectSilence(50);
    // Paid back at 150 kB/s: well within two seconds.
    await sleep(1_500);
    expect(await sender.request('broadcast', 'again', 3)).toMatchObject({
      event: 'broadcast',
      id: 3,
    });
    for (const l of listeners)
      expect((await l.nextJson()).data).toMatchObject({ data: 'again' });
    // Another client was never charged for the sender's fan-out.
    expect(await listeners[0].request('echo', 'free', 4)).toMatchObject({
      data: 'free',
    });
    await Promise.all([sender, ...listeners].map((c) => c.close()));
    await eventually(() => registry.size === 0, 'the registry to empty');
  });

  it('fan-out: a room message to many members is charged to its sender the same way', async () => {
    const members = await Promise.all(
      Array.from({ length: 5 }, () =>
        connect(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
    for (const m of members) await m.request('join', { room: 'wide' }, 'j');
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const data = 'o'.repeat(50_000);
    expect(
      await sender.request('publish', { room: 'wide', data }, 1),
    ).toMatchObject({ event: 'publish', id: 1 });
    for (const m of members) await m.nextJson();
    expect(
      await sender.request('publish', { room: 'wide', data: 'tiny' }, 2),
    ).toMatchObject({ event: 'error', data: { code: 'RATE_LIMITED' }, id: 2 });
    for (const m of members) await m.expectSilence(50);
    await Promise.all([sender, ...members].map((c) => c.close()));
    await eventually(() => registry.size === 0, 'the registry to empty');
  });

  it('fan-out: what a recovery replays is charged to the connection that asked for it', async () => {
    const publisher = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const data = 'r'.repeat(40_000);
    const first = await publisher.request(
      'publish',
      { room: 'replayed', data },
      1,
    );
    const { epoch } = first.data as { epoch: string };
    await sleep(400);
    await publisher.request('publish', { room: 'replayed', data }, 2);
    await sleep(400);
    await publisher.request('publish', { room: 'replayed', data }, 3);
    await sleep(400);
    await publisher.request('publish', { room: 'replayed', data }, 4);
    const reader = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    // 4 x ~40 kB replayed: ~160 kB, past the 150 kB a second allows.
    const replayed = await reader.request(
      'join',
      { room: 'replayed', since: { offset: 0, epoch } },
      'j',
    );
    expect(replayed).toMatchObject({ event: 'message', data: { offset: 1 } });
    for (const offset of [2, 3, 4])
      expect(await reader.nextJson()).toMatchObject({ data: { offset } });
    expect(await reader.nextJson()).toMatchObject({
      event: 'join',
      data: { recovered: true, offset: 4 },
    });
    expect(await reader.request('echo', 'cheap', 'e')).toMatchObject({
      event: 'error',
      data: { code: 'RATE_LIMITED' },
      id: 'e',
    });
    await Promise.all([publisher, reader].map((c) => c.close()));
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('slow consumer: a peer that never reads is cut off, a fast reader is served (e2e)', () => {
  const MAX_BUFFERED = 64 * 1024;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        maxBufferedBytes: MAX_BUFFERED,
        maxPayloadBytes: 256 * 1024,
        rateLimit: { perSecond: 100_000, burst: 100_000 },
      },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('broadcasts of 1 KiB pile up behind the non-reader until 1013 / termination', async () => {
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const reader = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const sleeper = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      paused: true,
    });
    await eventually(() => registry.size === 3, 'three connections');
    // The non-reader's record on the server: the last one registered.
    const slow = registry.all().at(-1)!;
    const text = 'x'.repeat(1024);
    const BATCH = 25;
    // The kernel's socket buffers on loopback take a few MB before the server's own buffer
    // grows; the loop goes on a little after the cut-off, and stops at MAX in any case.
    const MAX = 12_000;
    const AFTER_CUT = 4 * BATCH;
    let sent = 0;
    let cutAt: number | undefined;
    while (sent < MAX && (cutAt === undefined || sent < cutAt + AFTER_CUT)) {
      for (let i = 0; i < BATCH; i++) {
        sender.sendJson({ event: 'broadcast', data: { seq: sent + i, text } });
      }
      for (let i = 0; i < BATCH; i++) {
        const ack = await sender.nextJson();
        expect(ack.event).toBe('broadcast');
      }
      sent += BATCH;
      // The fast reader keeps up: the server never buffers much for it.
      await eventually(
        () => reader.pending >= sent,
        `the reader to have ${sent} pushes`,
      );
      if (cutAt === undefined && slow.socket.readyState !== slow.socket.OPEN)
        cutAt = sent;
    }
    expect(cutAt, `not cut off after ${sent} broadcasts`).toBeDefined();
    // The close frame waits behind the backlog; the socket is destroyed after a grace period.
    await eventually(() => registry.size === 2, 'the non-reader to be removed');
    expect(registry.get(slow.id)).toBeUndefined();
    expect(slow.closeCause).toBe('too slow to read');

    // Every broadcast reached the fast reader, in order.
    for (let seq = 0; seq < sent; seq++) {
      const push = await reader.nextJson();
      expect(push.event).toBe('broadcast');
      expect((push.data as { data: { seq: number } }).data.seq).toBe(seq);
    }
    expect(await reader.request('echo', 'fine', 1)).toMatchObject({
      data: 'fine',
    });
    expect(await sender.request('echo', 'fine', 2)).toMatchObject({
      data: 'fine',
    });

    // Reading at last: what the kernel held, then a 1013 close or the end of a terminated socket.
    sleeper.resume();
    expect([1013, 'end', 'reset']).toContain(await sleeper.closed);
    await sleeper.ended;
    await Promise.all([sender.close(), reader.close()]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('slow consumer: the limit measures what a client left unread across turns, not one burst (e2e)', () => {
  const MAX_BUFFERED = 256 * 1024;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        maxBufferedBytes: MAX_BUFFERED,
        // Only the send-buffer limit is under test: the byte budgets are far above the load.
        rateLimit: { bytesPerSecond: 1e9, bytesBurst: 1e9 },
      },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('one broadcast larger than the limit reaches a reader whose buffer was empty', async () => {
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const reader = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const text = 'y'.repeat(300_000);
    expect(await sender.request('broadcast', text, 1)).toMatchObject({
      event: 'broadcast',
      id: 1,
    });
    const push = await reader.nextJson();
    expect((push.data as { data: string }).data).toBe(text);
    expect(await reader.request('echo', 'still here', 2)).toMatchObject({
      data: 'still here',
    });
    await Promise.all([sender.close(), reader.close()]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });

  it('50 broadcasts of 500 kB in bursts of 5: a fast reader gets all 50, a client that never reads is cut off', async () => {
    const sender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const reader = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const sleeper = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      paused: true,
    });
    await eventually(() => registry.size === 3, 'three connections');
    const slow = registry.all().at(-1)!;
    const text = 'z'.repeat(500_000);
    const frameBytes = Buffer.byteLength(
      JSON.stringify({
        event: 'broadcast',
        data: { from: slow.id, data: { seq: 49, text } },
      }),
    );
    const BURSTS = 10;
    const PER_BURST = 5;
    let mostBuffered = 0;
    for (let b = 0; b < BURSTS; b++) {
      for (let i = 0; i < PER_BURST; i++) {
        sender.sendJson({
          event: 'broadcast',
          data: { seq: b * PER_BURST + i, text },
        });
      }
      for (let i = 0; i < PER_BURST; i++)
        expect((await sender.nextJson()).event).toBe('broadcast');
      if (slow.socket.readyState === slow.socket.OPEN)
        mostBuffered = Math.max(mostBuffered, slow.socket.bufferedAmount);
      // A reader that keeps up: it has every push of this burst before the next one comes.
      await eventually(
        () => reader.pending >= (b + 1) * PER_BURST,
        `the reader to have burst ${b + 1}`,
      );
    }
    for (let seq = 0; seq < BURSTS * PER_BURST; seq++) {
      const push = await reader.nextJson();
      expect((push.data as { data: { seq: number } }).data.seq).toBe(seq);
    }
    expect(await reader.request('echo', 'kept up', 1)).toMatchObject({
      data: 'kept up',
    });
    // The non-reader was cut off, and what the server held for it stayed within the limit plus
    // one turn's frames.
    await eventually(() => registry.size === 2, 'the non-reader to be removed');
    expect(slow.closeCause).toBe('too slow to read');
    expect(mostBuffered).toBeLessThanOrEqual(
      MAX_BUFFERED + PER_BURST * frameBytes,
    );
    sleeper.resume();
    expect([1013, 'end', 'reset']).toContain(await sleeper.closed);
    await Promise.all([sender.close(), reader.close()]);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
  it('a requester that stops reading gets one answer per accepted request, then 1013', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      paused: true,
    });
    await eventually(() => registry.size === 1, 'one connection');
    const record = registry.all()[0];
    const COUNT = 60;
    const data = 'e'.repeat(200_000);
    client.write(
      Buffer.concat(
        Array.from({ length: COUNT }, (_, i) =>
          frame({
            opcode: Opcode.TEXT,
            payload: JSON.stringify({ event: 'echo', data, id: i + 1 }),
          }),
        ),
      ),
    );
    await eventually(() => record.closing, 'the server to give up on it');
    // Read at once: the close frame waits behind the backlog for a second at most.
    client.resume();
    const answers = new Map<unknown, Record<string, unknown>[]>();
    for (;;) {
      const f = await client.nextDataFrame();
      if (f.opcode === Opcode.CLOSE) {
        expect(f.code).toBe(1013);
        break;
      }
      const json = JSON.parse(f.text!) as Record<string, unknown>;
      answers.set(json.id, [...(answers.get(json.id) ?? []), json]);
    }
    const ids = [...answers.keys()] as number[];
    expect(ids.length).toBeGreaterThan(0);
    // The accepted requests are a prefix of what was sent, each answered exactly once.
    expect(ids.sort((a, b) => a - b)).toEqual(
      Array.from({ length: ids.length }, (_, i) => i + 1),
    );
    const dropped = [...answers.values()].filter(([a]) => a.event === 'error');
    for (const list of answers.values()) expect(list).toHaveLength(1);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped[0][0].data).toEqual({
      code: 'INTERNAL',
      message: 'the reply was dropped: the client reads too slowly',
    });
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});

describe('heartbeats: a peer that never answers pings is terminated and cleaned up (e2e)', () => {
  const INTERVAL = 300;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;
  let rooms: RoomsService;

  beforeAll(async () => {
    gateway = await startApp({ gateway: { heartbeatIntervalMs: INTERVAL } });
    registry = gateway.app.get(ConnectionRegistry);
    rooms = gateway.app.get(RoomsService);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('silent raw peer: gone within two intervals, out of its room; a ponging client stays', async () => {
    const normal = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    let normalPings = 0;
    normal.socket.on('ping', () => normalPings++);
    expect(await normal.request('join', { room: 'hb' }, 1)).toMatchObject({
      event: 'join',
    });

    const silent = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      autoPong: false,
    });
    expect(await silent.request('join', { room: 'hb' }, 1)).toMatchObject({
      event: 'join',
      id: 1,
    });
    const silentId = registry.all().at(-1)!.id;
    expect(rooms.roomsOf(silentId)).toEqual(['hb']);
    expect(rooms.memberCount('hb')).toBe(2);
    const lastHeard = Date.now();

    // No pong, no message: the first round pings it, the next one terminates it (no close frame).
    expect(['end', 'reset']).toContain(await silent.closed);
    const silentFor = Date.now() - lastHeard;
    expect(silent.pingsReceived).toBeGreaterThanOrEqual(1);
    expect(silent.closeFrame).toBeUndefined();
    expect(silentFor).toBeLessThan(2 * INTERVAL + 250);
    await eventually(
      () => registry.get(silentId) === undefined,
      'unregistered',
    );
    expect(rooms.roomsOf(silentId)).toEqual([]);
    expect(rooms.memberCount('hb')).toBe(1);
    expect(rooms.roomCount).toBe(1);

    // The ws client answers every ping by itself: still there after 3+ more intervals.
    const seen = normalPings;
    await eventually(
      () => normalPings >= seen + 4,
      'four more pings to the ponging client',
      10 * INTERVAL,
    );
    expect(normal.socket.readyState).toBe(normal.socket.OPEN);
    expect(await normal.request('echo', 'alive', 2)).toEqual({
      event: 'echo',
      data: 'alive',
      id: 2,
    });
    expect(rooms.memberCount('hb')).toBe(1);
    await normal.close();
    await eventually(() => rooms.roomCount === 0, 'the room to empty');
    expect(registry.size).toBe(0);
  });
});

describe('slowloris: headers must arrive within handshakeTimeoutMs (e2e)', () => {
  const TIMEOUT = 1_000;
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({ handshakeTimeoutMs: TIMEOUT });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('half the request headers: 408 and closed after the timeout; an open WebSocket is untouched', async () => {
    const open = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const openedAt = Date.now();
    const { request } = upgradeRequest(gateway.wsUrl, { token: TEST_TOKEN });
    const startedAt = Date.now();
    const { answer, ended } = await rawHandshake(gateway.wsUrl, {
      token: TEST_TOKEN,
      requestBytes: Math.floor(request.length / 2),
    });
    const waited = Date.now() - startedAt;
    expect(answer.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(['end', 'reset']).toContain(await ended);
    // Not before the limit, and not much after it (Node checks every 250 ms here).
    expect(waited).toBeGreaterThanOrEqual(TIMEOUT - 50);
    expect(waited).toBeLessThan(TIMEOUT + 1_500);

    // The WebSocket opened before has lived past the limit and is served as usual.
    expect(Date.now() - openedAt).toBeGreaterThan(TIMEOUT);
    expect(await open.request('echo', 'unhurried', 1)).toEqual({
      event: 'echo',
      data: 'unhurried',
      id: 1,
    });
    await open.close();
  });
});

describe('abrupt TCP resets leave nothing behind (e2e)', () => {
  let gateway: RunningApp;
  let registry: ConnectionRegistry;
  let rooms: RoomsService;
  let bystander: TestClient;

  beforeAll(async () => {
    gateway = await startApp();
    registry = gateway.app.get(ConnectionRegistry);
    rooms = gateway.app.get(RoomsService);
    bystander = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    await bystander.request('join', { room: 'resets' }, 0);
  });
  afterEach(async () => {
    // Back to the bystander alone, in its room, and served.
    await eventually(() => registry.size === 1, 'only the bystander left');
    expect(rooms.memberCount('resets')).toBe(1);
    expect(rooms.roomCount).toBe(1);
    expect(await bystander.request('echo', 'unaffected', 'b')).toEqual({
      event: 'echo',
      data: 'unaffected',
      id: 'b',
    });
  });
  afterAll(async () => {
    await bystander.close();
    await gateway.close();
  });

  const open = async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    await eventually(() => registry.size === 2, 'the raw client registered');
    return client;
  };

  it('during the handshake (half the request sent)', async () => {
    const { request } = upgradeRequest(gateway.wsUrl, { token: TEST_TOKEN });
    const socket = tcpConnect({ host: '127.0.0.1', port: gateway.port });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(request.subarray(0, request.length / 2));
    await sleep(20);
    socket.resetAndDestroy();
    await new Promise((resolve) => socket.once('close', resolve));
  });

  it('right after the upgrade', async () => {
    const client = await open();
    client.reset();
    await client.ended;
  });

  it('mid-frame: after the header and half of the payload', async () => {
    const client = await open();
    const payload = JSON.stringify({ event: 'echo', data: 'z'.repeat(2_000) });
    const whole = frame({ opcode: Opcode.TEXT, payload });
    // 2 + 2 bytes of header, 4 of mask, then half the payload.
    client.write(whole.subarray(0, 8 + payload.length / 2));
    await sleep(20);
    client.reset();
    await client.ended;
  });

  it('after joining a room: the room is left', async () => {
    const client = await open();
    expect(await client.request('join', { room: 'resets' }, 1)).toMatchObject({
      event: 'join',
    });
    expect(rooms.memberCount('resets')).toBe(2);
    client.reset();
    await eventually(() => rooms.memberCount('resets') === 1, 'the room left');
  });

  it('in the same tick as a join: no member is left behind', async () => {
    const client = await open();
    client.sendJson({ event: 'join', data: { room: 'resets-race' }, id: 1 });
    client.reset();
    await eventually(() => registry.size === 1, 'the raw client gone');
    // Let any join still in flight finish.
    await sleep(50);
    expect(rooms.memberCount('resets-race')).toBe(0);
  });

  it('while the server writes to it (a paused reader being broadcast to)', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      paused: true,
    });
    await eventually(() => registry.size === 2, 'the raw client registered');
    const big = 'q'.repeat(64 * 1024);
    for (let i = 0; i < 20; i++)
      bystander.sendJson({ event: 'broadcast', data: big });
    for (let i = 0; i < 20; i++) await bystander.nextJson();
    client.reset();
    await client.ended;
  });
});
