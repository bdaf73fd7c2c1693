/** What one connection may make the server do, per second and at once. */
export interface RateLimits {
  /** Messages per second, and how many may come at once. */
  readonly perSecond: number;
  readonly burst: number;
  /** Bytes received per second, and how many at once (at least one largest message). */
  readonly bytesPerSecond: number;
  readonly bytesBurst: number;
  /** Bytes the connection's messages make the server send out (size x recipients), per second. */
  readonly fanoutBytesPerSecond: number;
}

/** Why a message was refused: which of the connection's budgets it was over. */
export type RateRefusal = 'messages' | 'bytes' | 'fanout';

/** `allow`, a refusal (answer `RATE_LIMITED`), or `close` (the client keeps flooding: 1008). */
export type RateVerdict = 'allow' | RateRefusal | 'close';

/** A token bucket refilled lazily, when it is read: plain numbers, no timers. */
class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.refilledAt = now;
  }

  /** Tokens left at `now`; negative while a charge is being paid back. */
  level(now: number): number {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(
        this.capacity,
        this.tokens + (elapsed * this.perSecond) / 1000,
      );
      this.refilledAt = now;
    }
    return this.tokens;
  }

  /** Takes `n` tokens, however few are left: for a cost known only once it was incurred. */
  charge(n: number, now: number): void {
    this.level(now);
    this.tokens -= n;
  }

  /** Takes `n` tokens right after {@link level} read the bucket at the same instant. */
  spend(n: number): void {
    this.tokens -= n;
  }
}

/**
 * A connection's budget: messages and bytes received, each a token bucket, plus the bytes its
 * messages made the server fan out, charged after the fact (a fan-out's size is known once it
 * was sent) and paid back before any further message is accepted. A client over a budget gets
 * `RATE_LIMITED` answers; one that refuses to slow down (more refused messages within one second
 * than the message burst, or more refused bytes than the byte burst) is closed with 1008.
 */
export class RateLimiter {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  private readonly fanout: TokenBucket;
  private refusedInWindow = 0;
  private refusedBytesInWindow = 0;
  private windowStart = 0;

  constructor(
    private readonly limits: RateLimits,
    now: number,
  ) {
    this.messages = new TokenBucket(limits.perSecond, limits.burst, now);
    this.bytes = new TokenBucket(limits.bytesPerSecond, limits.bytesBurst, now);
    // One second of fan-out may go at once.
    this.fanout = new TokenBucket(
      limits.fanoutBytesPerSecond,
      limits.fanoutBytesPerSecond,
      now,
    );
  }

  /** Decides on a message of `size` bytes arriving at `now` (ms), before it is parsed. */
  take(now: number, size: number): RateVerdict {
    const refusal: RateRefusal | undefined =
      this.fanout.level(now) < 0
        ? 'fanout'
        : this.messages.level(now) < 1
          ? 'messages'
          : this.bytes.level(now) < size
            ? 'bytes'
            : undefined;
    if (refusal === undefined) {
      // Both levels were read at `now` above.
      this.messages.spend(1);
      this.bytes.spend(size);
      return 'allow';
    }
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.refusedInWindow = 0;
      this.refusedBytesInWindow = 0;
    }
    this.refusedBytesInWindow += size;
    return ++this.refusedInWindow > this.limits.burst ||
      this.refusedBytesInWindow > this.limits.bytesBurst
      ? 'close'
      : refusal;
  }

  /** Charges `bytes` of fan-out (a frame's size times its recipients) sent at `now`. */
  chargeFanout(bytes: number, now: number): void {
    this.fanout.charge(bytes, now);
  }
}
