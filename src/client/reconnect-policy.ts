import { backoffDelay, type BackoffOptions } from './backoff.js';
import { CloseCode } from '../protocol/index.js';

/** Reconnection: exponential backoff with jitter, and how many attempts before giving up. */
export interface ReconnectOptions extends BackoffOptions {
  /** Attempts after a drop before the client gives up; `Infinity` never gives up. Default 10. */
  maxRetries?: number;
}

const DEFAULT_MAX_RETRIES = 10;

/**
 * Close codes after which trying again can work: the server went away or restarts (1001, 1012),
 * the connection dropped (1005, 1006), a server fault (1011), too slow a reader (1013), a proxy
 * (1014). After any other the server meant it: 1000 (closed on purpose), 1008 (policy: flooding),
 * 4401 (the token expired: only a new token helps), and the client's own protocol faults.
 */
const RECONNECT_CODES: ReadonlySet<number> = new Set([
  1001, 1005, 1006, 1011, 1012, 1013, 1014,
]);

/** Handshake answers worth another attempt: the server is draining, full, or behind a proxy. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/**
 * What a close of an open connection leads to: another attempt, waiting for the app's fresh token
 * (4401: the app calls `connect({ token })`), or the end.
 */
export type AfterClose = 'reconnect' | 'tokenExpired' | 'stop';

/** The next step after a failure: an attempt `delayMs` away, or giving up after `attempts`. */
export type NextAttempt =
  | { retry: true; attempt: number; delayMs: number }
  | { retry: false; attempts: number };

/**
 * When and whether the client tries again: which close codes and handshake statuses are final,
 * how long to wait (backoff.ts), and when to give up. Pure: it counts failures, it sets no timer.
 */
export class ReconnectPolicy {
  private readonly options: ReconnectOptions | false;
  private failed = 0;

  /** `option`: the client's `reconnect` option; `random` draws the jitter. */
  constructor(
    option: boolean | ReconnectOptions | undefined,
    private readonly random: () => number = Math.random,
  ) {
    this.options =
      option === false
        ? false
        : option === true || option === undefined
          ? {}
          : option;
  }

  private get maxRetries(): number {
    return this.options === false
      ? 0
      : (this.options.maxRetries ?? DEFAULT_MAX_RETRIES);
  }

  /** Failed attempts since the last open. */
  get failures(): number {
    return this.failed;
  }

  /** What a close with `code` of an open connection leads to. */
  afterClose(code: number): AfterClose {
    if (code === CloseCode.TOKEN_EXPIRED) return 'tokenExpired';
    return this.options !== false &&
      this.maxRetries > 0 &&
      RECONNECT_CODES.has(code)
      ? 'reconnect'
      : 'stop';
  }

  /**
   * Whether an attempt that failed before opening is worth another: yes for the network or a
   * timeout (`status` undefined) and for a busy server, never for 401, 403 or 404.
   */
  retriesAttempt(status: number | undefined): boolean {
    return (
      this.options !== false &&
      (status === undefined || RETRY_STATUSES.has(status))
    );
  }

  /** Counts a failure and says what follows it. */
  next(): NextAttempt {
    const attempt = ++this.failed;
    if (this.options === false || attempt > this.maxRetries) {
      return { retry: false, attempts: attempt - 1 };
    }
    return {
      retry: true,
      attempt,
      delayMs: backoffDelay(attempt, this.options, this.random),
    };
  }

  /**
   * A connection opened (or the app asked for one): the count starts again. Returns the failures
   * counted until then.
   */
  reset(): number {
    const failures = this.failed;
    this.failed = 0;
    return failures;
  }
}
