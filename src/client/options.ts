import type { BackoffOptions } from './backoff.js';
import type { ClientClock } from './clock.js';
import type { ReconnectOptions } from './reconnect-policy.js';
import type { WebSocketConstructor } from './transport.js';

/** How a `GatewayClient` connects, waits and reconnects; only `url` is required. */
export interface GatewayClientOptions {
  /** `ws://host:8765/` or `wss://...`. */
  url: string;
  /**
   * The token the handshake presents, or a function asked before every attempt (to hand over a
   * refreshed token). Omitted: no token (a gateway with `AUTH_DISABLED=true`).
   */
  token?: string | (() => string | Promise<string>);
  /**
   * Where the token goes: `header` (`Authorization: Bearer`, only possible with `ws` in Node) or
   * `query` (`?token=`, what a browser must use). Default: `header` when the client loaded `ws`
   * itself, `query` with a global or given `WebSocket`.
   */
  tokenIn?: 'header' | 'query';
  /** How long a request waits for its reply, in ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a connection attempt may take, handshake included, in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** `false`: never reconnect. Default: on, with the defaults of {@link ReconnectOptions}. */
  reconnect?: boolean | ReconnectOptions;
  /** Frames kept while disconnected; one more is refused with `QueueFullError`. Default 100. */
  maxQueuedMessages?: number;
  /**
   * Room messages held per room while a gap in the offsets is re-synchronized (or a `join` reply
   * awaited); past it the newest are let go and asked for again. Default 1 000.
   */
  maxHeldMessages?: number;
  /**
   * How long to wait before resuming again the rooms the server could not join for now
   * (`UNAVAILABLE`, no reply), while the connection stays open: the `roomPending` event. Default
   * `{ initialDelayMs: 500, maxDelayMs: 10000, factor: 2, jitter: 0.5 }`.
   */
  resumeRetry?: BackoffOptions;
  /** The WebSocket class. Default: the global `WebSocket`, else `ws` (loaded on first use). */
  WebSocket?: WebSocketConstructor;
  /** Timers. Default: the global `setTimeout` / `clearTimeout`. */
  clock?: ClientClock;
  /** A number in [0, 1), for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
}

/** The defaults of the options that have a number for one. */
export const OPTION_DEFAULTS = Object.freeze({
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  maxQueuedMessages: 100,
  maxHeldMessages: 1_000,
});

/** The backoff of `resumeRetry`: 500 ms doubling up to 10 s, half of it random. */
export const RESUME_RETRY_DEFAULTS: Readonly<Required<BackoffOptions>> =
  Object.freeze({
    initialDelayMs: 500,
    maxDelayMs: 10_000,
    factor: 2,
    jitter: 0.5,
  });
