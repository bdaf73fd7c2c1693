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
 * Where each number of a limiter sits: the tokens left in each of the three buckets, the instant
 * all three were last refilled, then the refusal window. Tokens go negative while a fan-out
 * charge is being paid back.
 */
const MESSAGES = 0;
const BYTES = 1;
const FANOUT = 2;
const REFILLED_AT = 3;
const WINDOW_START = 4;
const REFUSED = 5;
const REFUSED_BYTES = 6;
const SLOTS = 7;

/**
 * A connection's budget: messages and bytes received, each a token bucket, plus the bytes its
 * messages made the server fan out, charged after the fact (a fan-out's size is known once it
 * was sent) and paid back before any further message is accepted. A client over a budget gets
 * `RATE_LIMITED` answers; one that refuses to slow down (more refused messages within one second
 * than the message burst, or more refused bytes than the byte burst) is closed with 1008.
 *
 * The buckets are refilled lazily, when they are read: plain numbers, no timers. The limiter is
 * its own numbers (a `Float64Array`), and reads the rates from the limits every connection
 * shares. Every message reads all three buckets, and with a thousand connections taking turns,
 * what a message touches of its connection is mostly not in the processor's cache: as an object
 * per bucket, each with its rates and its numbers in boxes of their own (as V8 keeps numbers
 * that are not small integers), the limiter cost three fetches from memory per message, the
 * gateway's most expensive function of its own in a profile of that case; as one array, one
 * (docs/performance.md).
 */
export class RateLimiter extends Float64Array {
  constructor(
    private readonly limits: RateLimits,
    now: number,
  ) {
    super(SLOTS);
    this[MESSAGES] = limits.burst;
    this[BYTES] = limits.bytesBurst;
    // One second of fan-out may go at once.
    this[FANOUT] = limits.fanoutBytesPerSecond;
    this[REFILLED_AT] = now;
  }

  /** Decides on a message of `size` bytes arriving at `now` (ms), before it is parsed. */
  take(now: number, size: number): RateVerdict {
    this.refill(now);
    const refusal: RateRefusal | undefined =
      this[FANOUT] < 0
        ? 'fanout'
        : this[MESSAGES] < 1
          ? 'messages'
          : this[BYTES] < size
            ? 'bytes'
            : undefined;
    if (refusal === undefined) {
      this[MESSAGES] -= 1;
      this[BYTES] -= size;
      return 'allow';
    }
    const limits = this.limits;
    if (now - this[WINDOW_START] >= 1000) {
      this[WINDOW_START] = now;
      this[REFUSED] = 0;
      this[REFUSED_BYTES] = 0;
    }
    this[REFUSED_BYTES] += size;
    return ++this[REFUSED] > limits.burst ||
      this[REFUSED_BYTES] > limits.bytesBurst
      ? 'close'
      : refusal;
  }

  /** Charges `bytes` of fan-out (a frame's size times its recipients) sent at `now`. */
  chargeFanout(bytes: number, now: number): void {
    this.refill(now);
    this[FANOUT] -= bytes;
  }

  /** Adds what the time since the last refill earned each bucket, up to its capacity. */
  private refill(now: number): void {
    const elapsed = now - this[REFILLED_AT];
    if (elapsed <= 0) return;
    const limits = this.limits;
    this[REFILLED_AT] = now;
    this[MESSAGES] = Math.min(
      limits.burst,
      this[MESSAGES] + (elapsed * limits.perSecond) / 1000,
    );
    this[BYTES] = Math.min(
      limits.bytesBurst,
      this[BYTES] + (elapsed * limits.bytesPerSecond) / 1000,
    );
    this[FANOUT] = Math.min(
      limits.fanoutBytesPerSecond,
      this[FANOUT] + (elapsed * limits.fanoutBytesPerSecond) / 1000,
    );
  }
}
