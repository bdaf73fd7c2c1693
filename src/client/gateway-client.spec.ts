import { backoffDelay } from './backoff.js';
import { ConnectionClosedError } from './errors.js';
import {
  GatewayClient,
  type ClientClock,
  type GatewayClientOptions,
  type WebSocketConstructor,
} from './gateway-client.js';

// The client's pure logic with time, randomness and the socket in the test's hands. What it does
// against the real gateway, over real sockets, is test/client.e2e-spec.ts.

class FakeClock implements ClientClock {
  now = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextHandle = 0;

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = ++this.nextHandle;
    this.timers.set(handle, { at: this.now + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** The delay until the next timer fires, or undefined if none is armed. */
  get nextIn(): number | undefined {
    const ats = [...this.timers.values()].map((t) => t.at);
    return ats.length ? Math.min(...ats) - this.now : undefined;
  }

  /** Moves time on to the next timer and fires it. */
  fireNext(): void {
    const [handle, timer] = [...this.timers.entries()].sort(
      (a, b) => a[1].at - b[1].at,
    )[0];
    this.timers.delete(handle);
    this.now = timer.at;
    timer.callback();
  }
}

class FakeSocket {
  static made: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  sent: string[] = [];
  private listeners = new Map<string, Array<(event: any) => void>>();

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
    readonly options?: { headers?: Record<string, string> },
  ) {
    FakeSocket.made.push(this);
  }

  addEventListener(type: string, listener: (event: any) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(text: string): void {
    this.sent.push(text);
  }

  close(code = 1005, reason = ''): void {
    this.dropWith(code, reason);
  }

  open(): void {
    this.readyState = 1;
    this.dispatch('open', {});
  }

  receive(text: string): void {
    this.dispatch('message', { data: text });
  }

  dropWith(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatch('close', { code, reason });
  }

  private dispatch(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** Lets the client's async steps (loading the class, asking for the token) run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function client(options: Partial<GatewayClientOptions> = {}) {
  const clock = new FakeClock();
  const made = new GatewayClient({
    url: 'ws://gateway.test/',
    token: 't0k',
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    clock,
    random: () => 0.5,
    ...options,
  });
  return { client: made, clock };
}

const latest = () => FakeSocket.made[FakeSocket.made.length - 1];

beforeEach(() => {
  FakeSocket.made = [];
});

describe('GatewayClient (unit)', () => {
  it('puts the token in the query with a given WebSocket class, in the header on request', async () => {
    const { client: viaQuery } = client();
    void viaQuery.connect();
    await settle();
    expect(latest().url).toBe('ws://gateway.test/?token=t0k');
    expect(latest().options).toBeUndefined();

    const { client: viaHeader } = client({ tokenIn: 'header' });
    void viaHeader.connect();
    await settle();
    expect(latest().url).toBe('ws://gateway.test/');
    expect(latest().options).toEqual({
      headers: { Authorization: 'Bearer t0k' },
    });
  });

  it('asks a token function before every attempt', async () => {
    let n = 0;
    const { client: c, clock } = client({ token: () => `t${++n}` });
    void c.connect();
    await settle();
    latest().dropWith(1006);
    clock.fireNext();
    await settle();
    expect(FakeSocket.made.map((s) => s.url)).toEqual([
      'ws://gateway.test/?token=t1',
      'ws://gateway.test/?token=t2',
    ]);
  });

  it('waits backoffDelay(attempt) between attempts, then gives up after maxRetries', async () => {
    const reconnect = { initialDelayMs: 100, maxDelayMs: 400, maxRetries: 4 };
    const { client: c, clock } = client({ reconnect });
    const delays: number[] = [];
    c.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    let failed: unknown;
    c.on('reconnectFailed', (info) => (failed = info));
    const connecting = c.connect().catch((err: unknown) => err);
    for (let i = 0; i < 5; i++) {
      await settle();
      latest().dropWith(1006);
      if (i < 4) {
        expect(clock.nextIn).toBe(delays[i]);
        clock.fireNext();
      }
    }
    expect(delays).toEqual(
      [1, 2, 3, 4].map((a) => backoffDelay(a, reconnect, () => 0.5)),
    );
    expect(delays).toEqual([75, 150, 300, 300]);
    expect(failed).toMatchObject({ attempts: 4 });
    expect(await connecting).toBeInstanceOf(ConnectionClosedError);
    expect(c.state).toBe('closed');
    expect(clock.nextIn).toBeUndefined();
  });

  it('resets the attempts after a connection opens', async () => {
    const { client: c, clock } = client({
      reconnect: { initialDelayMs: 100, jitter: 0 },
    });
    const delays: number[] = [];
    c.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    void c.connect();
    await settle();
    latest().open();
    await settle();
    latest().dropWith(1001);
    clock.fireNext();
    await settle();
    latest().dropWith(1006);
    clock.fireNext();
    await settle();
    latest().open();
    await settle();
    latest().dropWith(1001);
    expect(delays).toEqual([100, 200, 100]);
  });

  it('gives up on an attempt after connectTimeoutMs', async () => {
    const { client: c, clock } = client({
      connectTimeoutMs: 1_000,
      reconnect: false,
    });
    const result = c.connect().catch((err: unknown) => err);
    await settle();
    expect(clock.nextIn).toBe(1_000);
    clock.fireNext();
    expect(await result).toMatchObject({
      closeReason: 'no connection within 1000 ms',
    });
  });

  it('rejects requests in flight at a drop but keeps the queued ones for the next connection', async () => {
    const { client: c, clock } = client({
      reconnect: { initialDelayMs: 10 },
    });
    void c.connect();
    await settle();
    latest().open();
    await settle();
    const inFlight = c.request('echo', 1).catch((err: unknown) => err);
    latest().dropWith(1006);
    expect(await inFlight).toBeInstanceOf(ConnectionClosedError);
    const queued = c.request('echo', 2);
    expect(c.queuedMessages).toBe(1);
    clock.fireNext();
    await settle();
    latest().open();
    await settle();
    const frame = JSON.parse(latest().sent[0]) as { id: number };
    expect(frame).toMatchObject({ event: 'echo', data: 2 });
    latest().receive(JSON.stringify({ event: 'echo', data: 2, id: frame.id }));
    expect(await queued).toBe(2);
  });

  it('does not reconnect on 1000 or 1008, nor on 4401, which emits tokenExpired', async () => {
    for (const code of [1000, 1008, 4401]) {
      const { client: c, clock } = client();
      const events: string[] = [];
      for (const e of ['close', 'reconnecting', 'tokenExpired'] as const) {
        c.on(e, () => events.push(e));
      }
      void c.connect();
      await settle();
      latest().open();
      await settle();
      latest().dropWith(code);
      expect(events).toEqual(
        code === 4401 ? ['close', 'tokenExpired'] : ['close'],
      );
      expect(c.state).toBe('closed');
      expect(clock.nextIn).toBeUndefined();
    }
  });

  it('reconnects on 1001, 1006, 1011, 1012 and 1013', async () => {
    for (const code of [1001, 1006, 1011, 1012, 1013]) {
      const { client: c } = client();
      let reconnecting = false;
      c.on('reconnecting', () => (reconnecting = true));
      void c.connect();
      await settle();
      latest().open();
      await settle();
      latest().dropWith(code);
      expect(reconnecting).toBe(true);
      expect(c.state).toBe('reconnecting');
      await c.close();
    }
  });

  it('hands a push named like a lifecycle event to onPush handlers, never to on handlers', async () => {
    const { client: c } = client();
    const closes: unknown[] = [];
    const pushes: unknown[] = [];
    const frames: string[] = [];
    c.on('close', (info) => closes.push(info));
    c.onPush('close', (data) => pushes.push(data));
    c.on('frame', (text) => frames.push(text));
    void c.connect();
    await settle();
    latest().open();
    await settle();
    latest().receive('{"event":"close","data":{"code":1}}');
    expect(closes).toEqual([]);
    expect(pushes).toEqual([{ code: 1 }]);
    expect(frames).toEqual(['{"event":"close","data":{"code":1}}']);
  });

  it('still delivers pushes to on(), once() and off() under a name that is not a lifecycle one (the old form)', async () => {
    const { client: c } = client();
    const seen: unknown[] = [];
    const kept = (data: unknown) => seen.push(['on', data]);
    c.on('game.tick', kept);
    c.once('game.tick', (data: unknown) => seen.push(['once', data]));
    // The two forms share the pushes: off() removes what onPush() added.
    const viaOnPush = (data: unknown) => seen.push(['onPush', data]);
    c.onPush('game.tick', viaOnPush);
    c.off('game.tick', viaOnPush);
    void c.connect();
    await settle();
    latest().open();
    await settle();
    latest().receive('{"event":"game.tick","data":1}');
    c.off('game.tick', kept);
    latest().receive('{"event":"game.tick","data":2}');
    expect(seen).toEqual([
      ['on', 1],
      ['once', 1],
    ]);
  });
});
