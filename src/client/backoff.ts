/** How the client waits between reconnection attempts. */
export interface BackoffOptions {
  /** The delay before the first attempt, in ms. Default 500. */
  initialDelayMs?: number;
  /** The longest delay, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Each attempt's delay is the previous one's times this. Default 2. */
  factor?: number;
  /**
   * How much of each delay is random, from 0 (none) to 1: the delay is drawn uniformly between
   * `(1 - jitter) * d` and `d`, so clients dropped together do not come back together. Default 0.5.
   */
  jitter?: number;
}

export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> =
  Object.freeze({
    initialDelayMs: 500,
    maxDelayMs: 30_000,
    factor: 2,
    jitter: 0.5,
  });

/**
 * The delay before attempt `attempt` (1 for the first): `initialDelayMs * factor^(attempt - 1)`,
 * capped at `maxDelayMs`, then reduced by up to `jitter` of itself. `random` returns a number in
 * [0, 1), as `Math.random` does. The result is never above the cap nor below zero.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { initialDelayMs, maxDelayMs, factor, jitter } = {
    ...BACKOFF_DEFAULTS,
    ...options,
  };
  const exponent = Math.max(0, attempt - 1);
  // Computed in a way that cannot overflow to Infinity * 0 for a very large attempt.
  const base = Math.min(maxDelayMs, initialDelayMs * factor ** exponent);
  const capped = Number.isFinite(base) ? base : maxDelayMs;
  const spread = Math.min(1, Math.max(0, jitter));
  return Math.max(0, Math.round(capped * (1 - spread * random())));
}
