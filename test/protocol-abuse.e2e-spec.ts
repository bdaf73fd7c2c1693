import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { eventually } from './support/eventually.js';
import {
  frame,
  Opcode,
  RawWsClient,
  type RawClosed,
} from './support/raw-client.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

/**
 * RFC 6455 abuse, written byte by byte with the raw client: whatever a client sends, the server
 * answers with the close code the RFC (and the protocol's table of close codes) gives, keeps no state behind, and
 * goes on serving everybody else.
 */
describe('protocol abuse: bad frames get the RFC 6455 close code (e2e)', () => {
  // Above ws's 16,384 fragments of one byte, so the fragment limit is met before this one.
  const MAX_PAYLOAD = 32 * 1024;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;
  const opened: RawWsClient[] = [];

  const open = async (paused = false) => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      paused,
    });
    opened.push(client);
    return client;
  };

  /** The server's close code, and the TCP connection then really ended. */
  const closedWith = async (client: RawWsClient): Promise<RawClosed> => {
    const closed = await client.closed;
    await client.ended;
    return closed;
  };

  beforeAll(async () => {
    gateway = await startApp({ gateway: { maxPayloadBytes: MAX_PAYLOAD } });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });
  afterEach(async () => {
    // A failed case may leave its raw client open: not the server's leftover.
    for (const client of opened.splice(0)) client.destroy();
    // Nothing left behind on the server, and a well-behaved newcomer is served as usual.
    await eventually(() => registry.size === 0, 'the registry to empty');
    const fresh = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect(await fresh.request('echo', 'after abuse', 'ok')).toEqual({
      event: 'echo',
      data: 'after abuse',
      id: 'ok',
    });
    await fresh.close();
    await eventually(() => registry.size === 0, 'the registry to empty');
  });

  it('the raw client itself speaks correct WebSocket: an echo round trip', async () => {
    const client = await open();
    expect(registry.size).toBe(1);
    expect(await client.request('echo', 'raw', 1)).toEqual({
      event: 'echo',
      data: 'raw',
      id: 1,
    });
    // A 16-bit length and a 64-bit one (non-minimal, still valid for ws) both parse.
    client.text(JSON.stringify({ event: 'echo', data: 'y'.repeat(300) }));
    expect((await client.nextJson()).data).toBe('y'.repeat(300));
    client.send({
      opcode: Opcode.TEXT,
      payload: '{"event":"echo","data":64,"id":2}',
      lengthBits: 64,
    });
    expect(await client.nextJson()).toEqual({ event: 'echo', data: 64, id: 2 });
    client.ping('are you there');
    const pong = await client.nextFrame();
    expect(pong.opcode).toBe(Opcode.PONG);
    expect(pong.payload.toString()).toBe('are you there');
    client.close(1000, 'bye');
    expect(await closedWith(client)).toBe(1000);
  });

  it.each(['rsv1', 'rsv2', 'rsv3'] as const)(
    '%s set with no extension negotiated: 1002',
    async (bit) => {
      const client = await open();
      client.send({
        opcode: Opcode.TEXT,
        payload: '{"event":"echo"}',
        [bit]: true,
      });
      expect(await closedWith(client)).toBe(1002);
      // A server close frame carries no mask.
      expect(client.closeFrame?.masked).toBe(false);
    },
  );

  it('an unmasked client frame: 1002', async () => {
    const client = await open();
    client.send({
      opcode: Opcode.TEXT,
      payload: '{"event":"echo","data":1,"id":1}',
      masked: false,
    });
    expect(await closedWith(client)).toBe(1002);
  });

  it('a fragmented control frame (ping with FIN clear): 1002', async () => {
    const client = await open();
    client.send({ opcode: Opcode.PING, payload: 'half', fin: false });
    expect(await closedWith(client)).toBe(1002);
  });

  it.each([
    ['ping', Opcode.PING],
    ['pong', Opcode.PONG],
    ['close', Opcode.CLOSE],
  ])(
    'a %s with a 126-byte payload (control frames max 125): 1002',
    async (_, opcode) => {
      const client = await open();
      const payload = Buffer.alloc(126, 0x61);
      if (opcode === Opcode.CLOSE) payload.writeUInt16BE(1000);
      client.send({ opcode, payload });
      expect(await closedWith(client)).toBe(1002);
    },
  );

  it.each([
    ['0x3', 0x3],
    ['0x7', 0x7],
    ['0xb', 0xb],
    ['0xf', 0xf],
  ])('reserved opcode %s: 1002', async (_, opcode) => {
    const client = await open();
    client.send({ opcode, payload: 'what is this' });
    expect(await closedWith(client)).toBe(1002);
  });

  it('a continuation frame with no message started: 1002', async () => {
    const client = await open();
    client.send({ opcode: Opcode.CONTINUATION, payload: 'orphan' });
    expect(await closedWith(client)).toBe(1002);
  });

  it('a new text frame in the middle of a fragmented message: 1002', async () => {
    const client = await open();
    client.text('{"event":', false);
    client.text('"echo"}');
    expect(await closedWith(client)).toBe(1002);
  });

  it('a close frame with a 1-byte body, or a status code no endpoint may send: 1002', async () => {
    const short = await open();
    short.send({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) });
    expect(await closedWith(short)).toBe(1002);
    const reserved = await open();
    reserved.close(1005);
    expect(await closedWith(reserved)).toBe(1002);
  });

  it('a declared 64-bit length of 2^40, payload never sent: 1009 at once, nothing allocated', async () => {
    const client = await open();
    const memory = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = memory();
    const sentAt = Date.now();
    // The header and the mask key only: no byte of the terabyte ever follows.
    client.send({ opcode: Opcode.TEXT, declaredLength: 2n ** 40n });
    expect(await closedWith(client)).toBe(1009);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
    // The heap moves by a few MiB on its own (other suites run beside this one, the collector
    // runs when it likes); allocating for the declared length would move it by a terabyte.
    expect(Math.abs(memory() - before)).toBeLessThan(64 * 1024 * 1024);
  });

  it.each([
    ['16-bit, one byte over the limit', MAX_PAYLOAD + 1, 16],
    ['64-bit, one byte over the limit', MAX_PAYLOAD + 1, 64],
    ['64-bit, past 2^53', 2n ** 63n, 64],
  ] as const)(
    'a declared length %s: 1009 before the payload comes',
    async (_, declaredLength, lengthBits) => {
      const client = await open();
      client.send({ opcode: Opcode.TEXT, declaredLength, lengthBits });
      expect(await closedWith(client)).toBe(1009);
    },
  );

  it('fragments adding up past the limit: 1009', async () => {
    const client = await open();
    const half = Buffer.alloc(MAX_PAYLOAD / 2 + 1, 0x61);
    client.text(half, false);
    client.send({ opcode: Opcode.CONTINUATION, payload: half, fin: false });
    expect(await closedWith(client)).toBe(1009);
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['0xff', [0x7b, 0xff, 0xfe, 0x7d]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated 3-byte sequence', [0x61, 0xe2, 0x82]],
  ])('a text frame with invalid UTF-8 (%s): 1007', async (_, bytes) => {
    const client = await open();
    client.text(Buffer.from(bytes));
    expect(await closedWith(client)).toBe(1007);
  });

  it('a UTF-8 sequence broken across a fragment boundary: 1007', async () => {
    const client = await open();
    client.text(Buffer.from([0x7b, 0xe2]), false);
    client.send({
      opcode: Opcode.CONTINUATION,
      payload: Buffer.from([0x28, 0x7d]),
    });
    expect(await closedWith(client)).toBe(1007);
  });

  it('a binary frame: 1003 with a reason', async () => {
    const client = await open();
    client.binary(Buffer.from([1, 2, 3]));
    expect(await closedWith(client)).toBe(1003);
    expect(client.closeFrame?.reason).toBe('binary frames are not accepted');
  });

  it('10,000 one-byte fragments of one text message: refused with 1008 before the message completes', async () => {
    const client = await open();
    const TOTAL = 10_000;
    const BATCH = 250;
    const continuation = frame({
      opcode: Opcode.CONTINUATION,
      payload: 'x',
      fin: false,
      maskKey: Buffer.alloc(4),
    });
    client.text('x', false);
    let sent = 1;
    let refusedAt: number | undefined;
    // A batch of fragments, then a ping (control frames may come between fragments) whose pong
    // says the server has read that far: the count at the close is known to within a batch.
    while (sent < TOTAL - 1) {
      const n = Math.min(BATCH, TOTAL - 1 - sent);
      client.write(
        Buffer.concat(Array.from({ length: n }, () => continuation)),
      );
      sent += n;
      client.ping(String(sent));
      const answer = await client.nextFrame();
      if (answer.opcode !== Opcode.PONG) {
        refusedAt = sent;
        break;
      }
    }
    if (refusedAt === undefined) {
      client.send({ opcode: Opcode.CONTINUATION, payload: 'x' });
      sent++;
      const reply = await client.nextFrame();
      expect.fail(
        `all ${sent} fragments were accepted as one message (the server answered opcode ${reply.opcode}, ${reply.payload.length} bytes)`,
      );
    }
    expect(await closedWith(client)).toBe(1008);
    expect(refusedAt).toBeLessThanOrEqual(TOTAL);
  });

  it("the fragment count is bounded: closed with 1008 by ws's maxFragments (16,384) at the latest", async () => {
    const client = await open();
    const BATCH = 1_000;
    const continuation = frame({
      opcode: Opcode.CONTINUATION,
      payload: 'x',
      fin: false,
      maskKey: Buffer.alloc(4),
    });
    const batch = Buffer.concat(
      Array.from({ length: BATCH }, () => continuation),
    );
    client.text('x', false);
    let sent = 1;
    let refusedAt: number | undefined;
    while (sent < 20_000) {
      client.write(batch);
      sent += BATCH;
      client.ping();
      if ((await client.nextFrame()).opcode !== Opcode.PONG) {
        refusedAt = sent;
        break;
      }
    }
    expect(refusedAt, `not refused after ${sent} fragments`).toBeDefined();
    expect(refusedAt).toBeLessThanOrEqual(16_384 + BATCH + 1);
    expect(await closedWith(client)).toBe(1008);
  });

  it('a ping flood from a peer that never reads is cut off; another client is served meanwhile', async () => {
    const bystander = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const client = await open(true);
    await eventually(() => registry.size === 2, 'both connections registered');
    // The flooder's record on the server: the last one registered.
    const flooder = registry.all().at(-1)!;
    // Few enough pings per write that the server answers each batch before the next comes
    // (ws also cuts off at once a peer with more than 60 pongs pending in one read): what trips
    // the limit is the pongs piling up behind the socket nobody reads.
    const PINGS_PER_WRITE = 20;
    const MAX_WRITES = 20_000; // 52 MB of pings at most
    const pings = Buffer.concat(
      Array.from({ length: PINGS_PER_WRITE }, () =>
        frame({
          opcode: Opcode.PING,
          payload: Buffer.alloc(125, 0x70),
          maskKey: Buffer.alloc(4),
        }),
      ),
    );
    let writes = 0;
    let backlog = 0;
    while (registry.size === 2 && writes < MAX_WRITES) {
      if (!client.write(pings)) break;
      writes++;
      // Let the server read and answer.
      await new Promise((resolve) => setImmediate(resolve));
      backlog = Math.max(backlog, flooder.socket.bufferedAmount);
    }
    await eventually(
      () => registry.size === 1,
      `the flooder to be cut off (after ${writes} writes of ${PINGS_PER_WRITE} pings)`,
    );
    expect(writes).toBeLessThan(MAX_WRITES);
    // Cut off once the server's pongs had started to queue, and before more than ws's 60
    // pending pongs (125 bytes + a 2-byte header each) were ever held for it.
    expect(backlog).toBeGreaterThan(0);
    expect(backlog).toBeLessThanOrEqual(60 * 127);
    // The bystander never noticed.
    expect(await bystander.request('echo', 'still here', 'b')).toEqual({
      event: 'echo',
      data: 'still here',
      id: 'b',
    });
    // Reading again: the pongs the kernel held, then the end, with no close frame or with 1013.
    client.resume();
    expect(['end', 'reset', 1013]).toContain(await client.closed);
    await client.ended;
    await bystander.close();
  });
});

describe('permessage-deflate (e2e)', () => {
  it('is off by default: a client offering it gets no compression', async () => {
    const gateway = await startApp();
    try {
      const client = await connect(gateway.wsUrl, {
        token: TEST_TOKEN,
        wsOptions: { perMessageDeflate: true },
      });
      expect(client.socket.extensions).toBe('');
      await client.close();
    } finally {
      await gateway.close();
    }
  });

  it('when enabled, bounds the inflated size: a deflate bomb closes with 1009', async () => {
    const deflating = await startApp({
      gateway: { maxPayloadBytes: 64 * 1024, perMessageDeflate: true },
    });
    try {
      const client = await connect(deflating.wsUrl, {
        token: TEST_TOKEN,
        wsOptions: { perMessageDeflate: { threshold: 0 } },
      });
      expect(client.socket.extensions).toContain('permessage-deflate');
      expect(await client.request('echo', 'small', 1)).toEqual({
        event: 'echo',
        data: 'small',
        id: 1,
      });
      // 8 MiB of one character deflates to a few KiB on the wire.
      client.send(
        JSON.stringify({ event: 'echo', data: 'a'.repeat(8 * 1024 * 1024) }),
      );
      expect((await client.closed).code).toBe(1009);
    } finally {
      await deflating.close();
    }
  });
});
