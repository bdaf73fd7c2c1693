import {
  LOGIN_WINDOW_MS,
  LoginThrottle,
  MAX_FAILED_LOGINS,
} from './login-throttle.js';

describe('LoginThrottle', () => {
  it('lets an address fail a few times, then refuses it until its window ends', () => {
    const throttle = new LoginThrottle();
    const t0 = 1_000_000;
    for (let i = 0; i < MAX_FAILED_LOGINS; i++) {
      expect(throttle.retryAfterSec('10.0.0.1', t0 + i)).toBe(0);
      throttle.failed('10.0.0.1', t0 + i);
    }
    expect(throttle.retryAfterSec('10.0.0.1', t0 + 10)).toBe(
      Math.ceil((LOGIN_WINDOW_MS - 10) / 1000),
    );
    // Another address is not touched.
    expect(throttle.retryAfterSec('10.0.0.2', t0 + 10)).toBe(0);
    expect(throttle.retryAfterSec('10.0.0.1', t0 + LOGIN_WINDOW_MS)).toBe(0);
    throttle.failed('10.0.0.1', t0 + LOGIN_WINDOW_MS);
    expect(throttle.retryAfterSec('10.0.0.1', t0 + LOGIN_WINDOW_MS + 1)).toBe(
      0,
    );
  });
});
