/**
 * A token bucket per connection, plus a flood guard: a client over its rate gets `RATE_LIMITED`
 * answers, and one that refuses to slow down (more refused messages within one second than the
 * bucket holds) is closed with 1008. Plain numbers, no timers: time is read when a message
 * arrives.
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;
  private refusedInWindow = 0;
  private windowStart = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.refilledAt = now;
  }

  /**
   * Takes one token for a message arriving at `now` (ms). Returns `allow`, `refuse` (answer
   * `RATE_LIMITED`) or `close` (the client keeps flooding: close with 1008).
   */
  take(now: number): 'allow' | 'refuse' | 'close' {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(
        this.burst,
        this.tokens + (elapsed * this.perSecond) / 1000,
      );
      this.refilledAt = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'allow';
    }
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.refusedInWindow = 0;
    }
    return ++this.refusedInWindow > this.burst ? 'close' : 'refuse';
  }
}
