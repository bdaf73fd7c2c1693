import { BACKOFF_DEFAULTS, backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const top = () => 0; // no jitter taken off: the exponential value itself
  const bottom = () => 0.999_999; // nearly all the jitter taken off

  it('doubles from initialDelayMs with each attempt, without jitter', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 10_000, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, options))).toEqual([
      100, 200, 400, 800, 1600,
    ]);
  });

  it('never goes above maxDelayMs', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 };
    expect(backoffDelay(5, options)).toBe(1_000);
    expect(backoffDelay(50, options)).toBe(1_000);
    // Far past the point where factor^attempt is Infinity.
    expect(backoffDelay(5_000, options)).toBe(1_000);
  });

  it('keeps each jittered delay within [(1 - jitter) * d, d]', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0.5 };
    for (let attempt = 1; attempt <= 8; attempt++) {
      const d = Math.min(1_000, 100 * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, options, top)).toBe(d);
      expect(backoffDelay(attempt, options, bottom)).toBe(Math.round(d / 2));
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, options);
        expect(delay).toBeGreaterThanOrEqual(d / 2);
        expect(delay).toBeLessThanOrEqual(d);
      }
    }
  });

  it('spreads delays over the jitter range', () => {
    let seed = 1;
    const random = () =>
      ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
    const delays = Array.from({ length: 200 }, () =>
      backoffDelay(1, { initialDelayMs: 1_000, jitter: 1 }, random),
    );
    expect(Math.min(...delays)).toBeLessThan(100);
    expect(Math.max(...delays)).toBeGreaterThan(900);
  });

  it('clamps jitter to [0, 1]', () => {
    expect(backoffDelay(1, { initialDelayMs: 100, jitter: 5 }, bottom)).toBe(0);
    expect(backoffDelay(1, { initialDelayMs: 100, jitter: -1 }, bottom)).toBe(
      100,
    );
  });

  it('treats attempt 0 or less as the first', () => {
    expect(backoffDelay(0, { jitter: 0 })).toBe(
      BACKOFF_DEFAULTS.initialDelayMs,
    );
  });

  it('has defaults of 500 ms doubling to 30 s, half of it jitter', () => {
    expect(BACKOFF_DEFAULTS).toEqual({
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      factor: 2,
      jitter: 0.5,
    });
    expect(backoffDelay(1, {}, top)).toBe(500);
    expect(backoffDelay(20, {}, top)).toBe(30_000);
  });
});
