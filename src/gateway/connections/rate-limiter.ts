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

/**
 * A connection's budget: messages and bytes received, each a token bucket, plus the bytes its
 * messages made the server fan out, charged after the fact (a fan-out's size is known once it
 * was sent) and paid back before any further message is accepted. A client over a budget gets
 * `RATE_LIMITED` answers; one that refuses to slow down (more refused messages within one second
 * than the message burst, or more refused bytes than the byte burst) is closed with 1008.
 *
 * The buckets are refilled lazily, when they are read: plain numbers, no timers. They are fields
 * of this one object rather than three objects of their own: it is read on every message of every
 * connection, and with thousands of connections each object more is a cache miss more.
 */
export class RateLimiter {
  private messages: number;
  private messagesAt: number;
  private bytes: number;
  private bytesAt: number;
  /** Negative while a fan-out charge is being paid back; one second of fan-out may go at once. */
  private fanout: number;
  private fanoutAt: number;
  private refusedInWindow = 0;
  private refusedBytesInWindow = 0;
  private windowStart = 0;

  constructor(
    private readonly limits: RateLimits,
    now: number,
  ) {
    this.messages = limits.burst;
    this.bytes = limits.bytesBurst;
    this.fanout = limits.fanoutBytesPerSecond;
    this.messagesAt = this.bytesAt = this.fanoutAt = now;
  }

  /** Decides on a message of `size` bytes arriving at `now` (ms), before it is parsed. */
  take(now: number, size: number): RateVerdict {
    const limits = this.limits;
    // Refilling only adds: a fan-out budget not below zero now is not below zero after it.
    let refusal: RateRefusal | undefined =
      this.fanout < 0 && this.fanoutLevel(now) < 0 ? 'fanout' : undefined;
    if (refusal === undefined) {
      const elapsedMessages = now - this.messagesAt;
      if (elapsedMessages > 0) {
        this.messages = Math.min(
          limits.burst,
          this.messages + (elapsedMessages * limits.perSecond) / 1000,
        );
        this.messagesAt = now;
      }
      const elapsedBytes = now - this.bytesAt;
      if (elapsedBytes > 0) {
        this.bytes = Math.min(
          limits.bytesBurst,
          this.bytes + (elapsedBytes * limits.bytesPerSecond) / 1000,
        );
        this.bytesAt = now;
      }
      if (this.messages < 1) refusal = 'messages';
      else if (this.bytes < size) refusal = 'bytes';
      else {
        this.messages -= 1;
        this.bytes -= size;
        return 'allow';
      }
    }
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.refusedInWindow = 0;
      this.refusedBytesInWindow = 0;
    }
    this.refusedBytesInWindow += size;
    return ++this.refusedInWindow > limits.burst ||
      this.refusedBytesInWindow > limits.bytesBurst
      ? 'close'
      : refusal;
  }

  /** Charges `bytes` of fan-out (a frame's size times its recipients) sent at `now`. */
  chargeFanout(bytes: number, now: number): void {
    this.fanout = this.fanoutLevel(now) - bytes;
  }

  /** The fan-out budget at `now`, refilled. */
  private fanoutLevel(now: number): number {
    const elapsed = now - this.fanoutAt;
    if (elapsed > 0) {
      const perSecond = this.limits.fanoutBytesPerSecond;
      this.fanout = Math.min(
        perSecond,
        this.fanout + (elapsed * perSecond) / 1000,
      );
      this.fanoutAt = now;
    }
    return this.fanout;
  }
}
