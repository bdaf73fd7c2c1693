/** Failed logins an address may have within {@link LOGIN_WINDOW_MS} before it is refused. */
export const MAX_FAILED_LOGINS = 5;
export const LOGIN_WINDOW_MS = 60_000;
/** Addresses tracked at once; past it the oldest window is forgotten (a flood of addresses). */
const MAX_ADDRESSES = 10_000;

interface Window {
  startedAt: number;
  failures: number;
}

/**
 * Failed console logins per client address: after {@link MAX_FAILED_LOGINS} failures within a
 * window, every login from that address is refused until the window ends, right secret or not,
 * so guessing costs a minute per five tries. A success does not reset the count: an attacker who
 * holds one viewer secret must not earn fresh guesses at the admin's.
 */
export class LoginThrottle {
  // Insertion order is age order: a window is re-inserted when it starts again.
  private readonly windows = new Map<string, Window>();

  /** Seconds until `address` may try again; 0 when it may now. */
  retryAfterSec(address: string, now: number): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    const endsIn = window.startedAt + LOGIN_WINDOW_MS - now;
    if (endsIn <= 0) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= MAX_FAILED_LOGINS ? Math.ceil(endsIn / 1000) : 0;
  }

  /** Counts a failed login from `address`. */
  failed(address: string, now: number): void {
    let window = this.windows.get(address);
    if (!window || now - window.startedAt >= LOGIN_WINDOW_MS) {
      this.windows.delete(address);
      window = { startedAt: now, failures: 0 };
      this.windows.set(address, window);
      if (this.windows.size > MAX_ADDRESSES) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
    }
    window.failures++;
  }
}
