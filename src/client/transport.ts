import { timerDelay, type ClientClock } from './clock.js';
import {
  ConnectionClosedError,
  GatewayClientError,
  HandshakeRefusedError,
} from './errors.js';

/**
 * The part of the WebSocket API the client uses: the browser's, which `ws` implements as well
 * (with a third constructor argument for options such as headers).
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket class: the browser's global one, `ws`'s, or a test's. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** A WebSocket class, and whether it is `ws` (which alone can set handshake headers). */
export interface LoadedWebSocket {
  Socket: WebSocketConstructor;
  isWs: boolean;
}

/**
 * The global `WebSocket` when there is one, else `ws`, imported on first use. Throws
 * `GatewayClientError` when neither exists.
 */
export async function loadWebSocket(): Promise<LoadedWebSocket> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return { Socket: global, isWs: false };
  // A variable specifier: browser bundlers leave it alone; this line only runs in Node.
  const specifier = 'ws';
  const ws = (await import(specifier)) as {
    WebSocket?: WebSocketConstructor;
    default?: WebSocketConstructor;
  };
  const Socket = ws.WebSocket ?? ws.default;
  if (!Socket) throw new GatewayClientError('no WebSocket available');
  return { Socket, isWs: true };
}

/** How to make one connection attempt. */
export interface DialOptions {
  url: string;
  token?: string;
  /** `header`: `Authorization: Bearer` (only `ws` can); `query`: `?token=`. */
  tokenIn: 'header' | 'query';
  connectTimeoutMs: number;
  clock: ClientClock;
}

/** What becomes of one attempt; `message` and `closed` only follow `open`. */
export interface DialEvents {
  open(): void;
  /** A text frame; binary ones are not part of the protocol and are ignored. */
  message(text: string): void;
  /** The socket closed after it opened. */
  closed(code: number, reason: string): void;
  /**
   * The socket closed before it opened: `HandshakeRefusedError` when the transport told the HTTP
   * status (`status` then set), else `ConnectionClosedError` with the best cause known.
   */
  failed(error: GatewayClientError, status: number | undefined): void;
}

/**
 * Opens a socket with the token where it belongs, gives up after `connectTimeoutMs`, and reports
 * what becomes of it to `events`. Throws (synchronously) on a URL that no attempt can open.
 */
export function dial(
  Socket: WebSocketConstructor,
  options: DialOptions,
  events: DialEvents,
): WebSocketLike {
  const { token, tokenIn } = options;
  let url = options.url;
  if (token && tokenIn === 'query') {
    const u = new URL(url);
    u.searchParams.set('token', token);
    url = u.toString();
  }
  const socket =
    token && tokenIn === 'header'
      ? new Socket(url, undefined, {
          headers: { Authorization: `Bearer ${token}` },
        })
      : new Socket(url);
  socket.binaryType = 'arraybuffer';
  let opened = false;
  let status: number | undefined;
  let cause: string | undefined;
  const timer = options.clock.setTimeout(() => {
    cause = `no connection within ${options.connectTimeoutMs} ms`;
    abort(socket);
  }, timerDelay(options.connectTimeoutMs));
  // ws tells the HTTP status of a refused handshake on this event; a browser never does.
  const emitter = socket as unknown as {
    once?: (event: string, listener: (...args: any[]) => void) => void;
  };
  if (typeof emitter.once === 'function') {
    emitter.once(
      'unexpected-response',
      (_req, res: { statusCode?: number }) => {
        status = res.statusCode;
        abort(socket);
      },
    );
  }
  socket.addEventListener('open', () => {
    options.clock.clearTimeout(timer);
    opened = true;
    events.open();
  });
  socket.addEventListener('message', (event: { data: unknown }) => {
    if (typeof event.data === 'string') events.message(event.data);
  });
  socket.addEventListener(
    'error',
    (event: { message?: string; error?: Error }) => {
      cause ??= event?.message ?? event?.error?.message;
    },
  );
  socket.addEventListener(
    'close',
    (event: { code: number; reason: string }) => {
      options.clock.clearTimeout(timer);
      if (opened) events.closed(event.code, event.reason ?? '');
      else
        events.failed(
          status !== undefined
            ? new HandshakeRefusedError(status)
            : new ConnectionClosedError(
                event.code,
                cause ?? event.reason ?? '',
              ),
          status,
        );
    },
  );
  return socket;
}

/** Ends an attempt that has not opened: `ws` can terminate; a browser socket only closes. */
function abort(socket: WebSocketLike): void {
  const ws = socket as unknown as { terminate?: () => void };
  if (typeof ws.terminate === 'function') ws.terminate();
  else socket.close();
}
