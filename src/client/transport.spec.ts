import type { ClientClock } from './clock.js';
import { ConnectionClosedError, HandshakeRefusedError } from './errors.js';
import {
  dial,
  type DialEvents,
  type DialOptions,
  type WebSocketConstructor,
} from './transport.js';

class ManualClock implements ClientClock {
  readonly armed = new Map<number, { ms: number; callback: () => void }>();
  private last = 0;

  setTimeout(callback: () => void, ms: number): unknown {
    this.armed.set(++this.last, { ms, callback });
    return this.last;
  }

  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number);
  }
}

/** A socket the test drives; `withOnce` makes it look like `ws` (it tells refused statuses). */
class FakeSocket {
  static last: FakeSocket;
  readyState = 0;
  binaryType = 'blob';
  terminated = false;
  private listeners = new Map<string, Array<(...args: any[]) => void>>();

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
    readonly options?: { headers?: Record<string, string> },
  ) {
    FakeSocket.last = this;
  }

  addEventListener(type: string, listener: (event: any) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(): void {}

  close(code = 1005, reason = ''): void {
    this.dispatch('close', { code, reason });
  }

  dispatch(type: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(type) ?? []) listener(...args);
  }
}

class FakeWs extends FakeSocket {
  once(type: string, listener: (...args: any[]) => void): void {
    this.addEventListener(type, listener);
  }

  terminate(): void {
    this.terminated = true;
    this.dispatch('close', { code: 1006, reason: '' });
  }
}

function start(
  options: Partial<DialOptions> = {},
  Socket: typeof FakeSocket = FakeSocket,
) {
  const clock = new ManualClock();
  const seen: unknown[] = [];
  const events: DialEvents = {
    open: () => seen.push('open'),
    message: (text) => seen.push(['message', text]),
    closed: (code, reason) => seen.push(['closed', code, reason]),
    failed: (error, status) => seen.push(['failed', error, status]),
  };
  const socket = dial(
    Socket as unknown as WebSocketConstructor,
    {
      url: 'ws://gateway.test/',
      token: 't0k',
      tokenIn: 'query',
      connectTimeoutMs: 1_000,
      clock,
      ...options,
    },
    events,
  ) as unknown as FakeSocket;
  return { socket, clock, seen };
}

describe('dial', () => {
  it('puts the token in ?token= or in the Authorization header, and none when there is none', () => {
    expect(start().socket.url).toBe('ws://gateway.test/?token=t0k');
    const viaHeader = start({ tokenIn: 'header' }).socket;
    expect(viaHeader.url).toBe('ws://gateway.test/');
    expect(viaHeader.options).toEqual({
      headers: { Authorization: 'Bearer t0k' },
    });
    const none = start({ token: undefined }).socket;
    expect([none.url, none.options]).toEqual(['ws://gateway.test/', undefined]);
    expect(none.binaryType).toBe('arraybuffer');
  });

  it('throws on a URL no attempt can open', () => {
    expect(() => start({ url: 'not a url' })).toThrow();
  });

  it('reports open, text messages and the close after it; binary frames are ignored', () => {
    const { socket, clock, seen } = start();
    socket.dispatch('open', {});
    expect(clock.armed.size).toBe(0);
    socket.dispatch('message', { data: 'hi' });
    socket.dispatch('message', { data: new ArrayBuffer(2) });
    socket.dispatch('close', { code: 1001, reason: 'restart' });
    expect(seen).toEqual([
      'open',
      ['message', 'hi'],
      ['closed', 1001, 'restart'],
    ]);
  });

  it('fails an attempt that closes before opening with the best cause known', () => {
    const { socket, seen } = start();
    socket.dispatch('error', { message: 'ECONNREFUSED' });
    socket.dispatch('close', { code: 1006, reason: '' });
    const [[, error, status]] = seen as [
      [string, ConnectionClosedError, unknown],
    ];
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error).toMatchObject({
      closeCode: 1006,
      closeReason: 'ECONNREFUSED',
    });
    expect(status).toBeUndefined();
  });

  it('gives up after connectTimeoutMs, closing a browser socket and terminating a ws one', () => {
    for (const Socket of [FakeSocket, FakeWs]) {
      const { socket, clock, seen } = start({}, Socket);
      const [timer] = [...clock.armed.values()];
      expect(timer.ms).toBe(1_000);
      timer.callback();
      expect(socket.terminated).toBe(Socket === FakeWs);
      expect(seen).toHaveLength(1);
      expect((seen[0] as unknown[])[1]).toMatchObject({
        closeReason: 'no connection within 1000 ms',
      });
    }
  });

  it('tells the HTTP status of a refused handshake where ws reports it', () => {
    const { socket, seen } = start({}, FakeWs);
    socket.dispatch('unexpected-response', {}, { statusCode: 401 });
    expect((socket as FakeWs).terminated).toBe(true);
    const [[, error, status]] = seen as [
      [string, HandshakeRefusedError, number],
    ];
    expect(error).toBeInstanceOf(HandshakeRefusedError);
    expect(error.status).toBe(401);
    expect(status).toBe(401);
  });
});
