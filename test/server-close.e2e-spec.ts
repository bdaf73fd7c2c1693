import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
} from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { Gateway } from '../src/gateway/dispatch/gateway.decorator.js';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { GatewayConfig } from '../src/config/gateway.config.js';
import type { GatewayJwtOptions } from '../src/gateway/gateway.options.js';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { connectionOf } from '../src/gateway/connections/connection.js';
import { eventually } from './support/eventually.js';
import {
  frame,
  Opcode,
  RawWsClient,
  type ServerFrame,
} from './support/raw-client.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A host gateway whose handler takes as long as the request asks: a request kept in flight. */
@Gateway()
class SlowGateway {
  @SubscribeMessage('slow')
  async slow(@MessageBody() ms: number): Promise<number> {
    await sleep(ms);
    return ms;
  }

  /** Has the server close this very connection, then answers, without awaiting anything. */
  @SubscribeMessage('closeMe')
  closeMe(@ConnectedSocket() socket: WebSocket): string {
    connectionOf(socket)!.close(4000, 'asked to');
    return 'bye';
  }

  /** The same, answering a tick later. */
  @SubscribeMessage('closeMeLater')
  async closeMeLater(@ConnectedSocket() socket: WebSocket): Promise<string> {
    connectionOf(socket)!.close(4000, 'asked to');
    await sleep(10);
    return 'bye later';
  }
}

type Json = Record<string, unknown>;

/** Every frame up to and including the server's close frame, in the order they arrived. */
async function framesUntilClose(
  client: RawWsClient,
  timeoutMs = 10_000,
): Promise<{ before: Json[]; close: ServerFrame }> {
  const before: Json[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await client.nextDataFrame(Math.max(1, deadline - Date.now()));
    if (f.opcode === Opcode.CLOSE) return { before, close: f };
    before.push(JSON.parse(f.text!) as Json);
  }
}

/** `count` envelopes as masked text frames in one buffer: one TCP write, one server read. */
function burst(count: number, envelope: (id: number) => Json): Buffer {
  return Buffer.concat(
    Array.from({ length: count }, (_, i) =>
      frame({ opcode: Opcode.TEXT, payload: JSON.stringify(envelope(i + 1)) }),
    ),
  );
}

const byId = (frames: Json[]) => {
  const map = new Map<unknown, Json[]>();
  for (const f of frames) map.set(f.id, [...(map.get(f.id) ?? []), f]);
  return map;
};

describe('a server-initiated close waits for the replies of accepted requests (e2e)', () => {
  const PER_SECOND = 20;
  const BURST = 20;
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({
      providers: [SlowGateway],
      gateway: { rateLimit: { perSecond: PER_SECOND, burst: BURST } },
    });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  it.each(['echo', 'broadcast'])(
    '1008: 45 %s requests in one write get 20 replies and 20 refusals, all before the close frame',
    async (event) => {
      const listener = await connect(gateway.wsUrl, { token: TEST_TOKEN });
      const client = await RawWsClient.connect(gateway.wsUrl, {
        token: TEST_TOKEN,
      });
      client.write(burst(45, (id) => ({ event, data: { n: id }, id })));
      const { before, close } = await framesUntilClose(client);
      expect(close.code).toBe(1008);
      const answers = byId(before);
      for (let id = 1; id <= BURST; id++) {
        expect(answers.get(id), `request ${id}`).toHaveLength(1);
        expect(answers.get(id)![0]).toMatchObject({ event, id });
      }
      for (let id = BURST + 1; id <= 2 * BURST; id++) {
        expect(answers.get(id), `request ${id}`).toEqual([
          expect.objectContaining({
            event: 'error',
            data: expect.objectContaining({ code: 'RATE_LIMITED' }),
          }),
        ]);
      }
      // Past the closing decision nothing more is accepted, so nothing more is answered.
      expect(before).toHaveLength(2 * BURST);
      if (event === 'broadcast') {
        // The side effects happened exactly for the accepted requests.
        const pushes = await Promise.all(
          Array.from({ length: BURST }, () => listener.nextJson()),
        );
        expect(
          pushes.map((p) => (p.data as { data: { n: number } }).data.n),
        ).toEqual(Array.from({ length: BURST }, (_, i) => i + 1));
      }
      await listener.expectSilence(100);
      await listener.close();
      await eventually(() => registry.size === 0, 'the registry to empty');
    },
  );

  it.each([
    ['closeMe', 'bye'],
    ['closeMeLater', 'bye later'],
  ])(
    'a handler (%s) that closes its own connection still gets its reply out before the close frame',
    async (event, reply) => {
      const client = await RawWsClient.connect(gateway.wsUrl, {
        token: TEST_TOKEN,
      });
      client.write(burst(1, (id) => ({ event, id })));
      const { before, close } = await framesUntilClose(client);
      expect(before).toEqual([{ event, data: reply, id: 1 }]);
      expect(close.code).toBe(4000);
      await eventually(() => registry.size === 0, 'the registry to empty');
    },
  );

  it('1008: slow requests in flight at the flood are answered before the close frame', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    client.write(
      burst(50, (id) =>
        id <= 5
          ? { event: 'slow', data: 150, id }
          : { event: 'echo', data: id, id },
      ),
    );
    const { before, close } = await framesUntilClose(client);
    expect(close.code).toBe(1008);
    const answers = byId(before);
    for (let id = 1; id <= 5; id++)
      expect(answers.get(id)).toEqual([{ event: 'slow', data: 150, id }]);
    for (let id = 6; id <= BURST; id++)
      expect(answers.get(id)).toEqual([{ event: 'echo', data: id, id }]);
    // The slow replies came last: the close waited for them.
    expect(before.at(-1)).toMatchObject({ event: 'slow' });
    await eventually(() => registry.size === 0, 'the registry to empty');
  });

  it('messages after the closing decision are not accepted: no reply, no side effect', async () => {
    const listener = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    // 20 accepted, 21 refused (the 21st refusal decides the close), then broadcasts that must
    // not go out while the close waits for the slow request.
    client.write(
      Buffer.concat([
        burst(1, (id) => ({ event: 'slow', data: 200, id })),
        burst(40, (id) => ({ event: 'echo', data: id, id: id + 1 })),
        burst(5, (id) => ({ event: 'broadcast', data: 'late', id: 100 + id })),
      ]),
    );
    const { before, close } = await framesUntilClose(client);
    expect(close.code).toBe(1008);
    expect(before.filter((f) => Number(f.id) > 100)).toEqual([]);
    await listener.expectSilence(300);
    await listener.close();
  });
});

describe('the close waits for in-flight handlers at most closeGraceMs (e2e)', () => {
  const GRACE_MS = 300;
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      providers: [SlowGateway],
      gateway: {
        rateLimit: { perSecond: 5, burst: 5 },
        closeGraceMs: GRACE_MS,
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('a handler still running at the bound is answered INTERNAL with its id, then the close frame', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    const started = Date.now();
    client.write(
      burst(20, (id) =>
        id === 1
          ? { event: 'slow', data: 5_000, id }
          : { event: 'echo', data: id, id },
      ),
    );
    const { before, close } = await framesUntilClose(client);
    const waited = Date.now() - started;
    expect(close.code).toBe(1008);
    expect(waited).toBeGreaterThanOrEqual(GRACE_MS - 20);
    expect(waited).toBeLessThan(4_000);
    expect(byId(before).get(1)).toEqual([
      {
        event: 'error',
        data: {
          code: 'INTERNAL',
          message: `the connection is closing and the request did not finish within ${GRACE_MS} ms`,
        },
        id: 1,
      },
    ]);
    expect(before.at(-1)).toMatchObject({ id: 1 });
  });
});

describe('1001 drain and 4401 expiry answer the requests in flight first (e2e)', () => {
  const SECRET = randomBytes(32).toString('base64url');
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      providers: [SlowGateway],
      gateway: {
        auth: {
          tokens: [TEST_TOKEN],
          // The config type has no clockToleranceSec; the module options do.
          jwt: {
            secret: SECRET,
            clockToleranceSec: 0,
          } as GatewayJwtOptions as NonNullable<GatewayConfig['auth']['jwt']>,
        },
      },
    });
  });

  it('4401: a request running when the token expires gets its reply before the close', async () => {
    const exp = Math.ceil((Date.now() + 1_200) / 1000);
    const token = await new SignJWT({ sub: 'alice', exp })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    const client = await RawWsClient.connect(gateway.wsUrl, { token });
    // Running from 300 ms before the expiry to 300 ms after it.
    await sleep(exp * 1000 - Date.now() - 300);
    client.sendJson({ event: 'slow', data: 600, id: 'in-flight' });
    const { before, close } = await framesUntilClose(client);
    expect(close.code).toBe(4401);
    expect(before).toEqual([{ event: 'slow', data: 600, id: 'in-flight' }]);
  });

  it('1001: a request running when shutdown begins gets its reply before the close', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
    });
    client.sendJson({ event: 'slow', data: 300, id: 'draining' });
    await sleep(50);
    const closing = gateway.close();
    const { before, close } = await framesUntilClose(client);
    expect(close.code).toBe(1001);
    expect(before).toEqual([{ event: 'slow', data: 300, id: 'draining' }]);
    client.close(1001);
    await closing;
  });
});

describe('the close handshake frees the connection without waiting for the client (e2e)', () => {
  let gateway: RunningApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    gateway = await startApp({ providers: [SlowGateway] });
    registry = gateway.app.get(ConnectionRegistry);
  });
  afterAll(async () => {
    await gateway.close();
  });

  // The client keeps its side of TCP open after the handshake. The server used to wait for its
  // FIN, up to ws's 30 s close timeout, holding the connection's slot all the while.
  it.each([
    ['the client', 1000],
    ['the server', 4000],
  ])(
    'closed by %s: the server ends TCP once its close frame is out (%i)',
    async (_who, code) => {
      const client = await RawWsClient.connect(gateway.wsUrl, {
        token: TEST_TOKEN,
        halfOpen: true,
        // Its close frame is sent by hand below, and no FIN with it.
        replyToClose: false,
      });
      await eventually(() => registry.size === 1, 'the connection');
      if (code === 1000) client.close(1000);
      else client.sendJson({ event: 'closeMe', id: 1 });
      const { close } = await framesUntilClose(client);
      expect(close.code).toBe(code);
      if (code !== 1000) client.close(code);
      await eventually(
        () => registry.size === 0,
        'the server to let the connection go',
        2_000,
      );
      await eventually(
        () => client.socket.readableEnded,
        "the server's FIN",
        2_000,
      );
      client.end();
      // Nothing was reset: the server's FIN came after all it had to say.
      expect(await client.ended).toBe('end');
    },
  );

  it('after a protocol error (1009) it reads on until the client stops: a client still writing gets the close frame, and no reset', async () => {
    const client = await RawWsClient.connect(gateway.wsUrl, {
      token: TEST_TOKEN,
      halfOpen: true,
      replyToClose: false,
    });
    // A frame declared far over the limit, then its payload keeps coming.
    client.send({ opcode: Opcode.TEXT, declaredLength: 2n ** 40n });
    const junk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 32; i++) {
      client.write(junk);
      await sleep(5);
    }
    const { close } = await framesUntilClose(client);
    expect(close.code).toBe(1009);
    client.end();
    expect(await client.ended).toBe('end');
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});
