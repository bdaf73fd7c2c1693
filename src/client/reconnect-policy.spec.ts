import { backoffDelay } from './backoff.js';
import { ReconnectPolicy } from './reconnect-policy.js';

const half = () => 0.5;

describe('ReconnectPolicy', () => {
  it('reconnects after the codes of a server going away or a dropped connection', () => {
    const policy = new ReconnectPolicy(undefined, half);
    for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 1014]) {
      expect(policy.afterClose(code)).toBe('reconnect');
    }
  });

  it('stops after a close the server meant, and waits for a token after 4401', () => {
    const policy = new ReconnectPolicy(true, half);
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 4000, 4400]) {
      expect(policy.afterClose(code)).toBe('stop');
    }
    expect(policy.afterClose(4401)).toBe('tokenExpired');
  });

  it('never reconnects with reconnect: false or maxRetries 0, but still reports 4401', () => {
    for (const option of [false, { maxRetries: 0 }] as const) {
      const policy = new ReconnectPolicy(option, half);
      expect(policy.afterClose(1006)).toBe('stop');
      expect(policy.afterClose(4401)).toBe('tokenExpired');
    }
    expect(new ReconnectPolicy(false, half).retriesAttempt(undefined)).toBe(
      false,
    );
  });

  it('retries a failed attempt after the network or a busy server, never after 401, 403 or 404', () => {
    const policy = new ReconnectPolicy({}, half);
    for (const status of [undefined, 429, 500, 502, 503, 504]) {
      expect(policy.retriesAttempt(status)).toBe(true);
    }
    for (const status of [400, 401, 403, 404, 501]) {
      expect(policy.retriesAttempt(status)).toBe(false);
    }
  });

  it('counts failures, waits backoffDelay(attempt), and gives up past maxRetries', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 400, maxRetries: 3 };
    const policy = new ReconnectPolicy(options, half);
    const steps = [1, 2, 3, 4].map(() => policy.next());
    expect(steps).toEqual([
      ...[1, 2, 3].map((attempt) => ({
        retry: true,
        attempt,
        delayMs: backoffDelay(attempt, options, half),
      })),
      { retry: false, attempts: 3 },
    ]);
    expect(policy.failures).toBe(4);
  });

  it('gives up after 10 failures by default', () => {
    const policy = new ReconnectPolicy(undefined, half);
    for (let i = 1; i <= 10; i++) expect(policy.next().retry).toBe(true);
    expect(policy.next()).toEqual({ retry: false, attempts: 10 });
  });

  it('starts counting again on reset, which returns the failures so far', () => {
    const policy = new ReconnectPolicy(
      { initialDelayMs: 100, jitter: 0 },
      half,
    );
    policy.next();
    policy.next();
    expect(policy.reset()).toBe(2);
    expect(policy.failures).toBe(0);
    expect(policy.next()).toEqual({ retry: true, attempt: 1, delayMs: 100 });
  });
});
