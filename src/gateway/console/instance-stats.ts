import type { InstanceStats } from '../../protocol/console.js';

/** The running totals an instance's rates are computed from. */
export interface Totals {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly errors: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What is read at each sample besides the totals. */
export type Gauges = Omit<
  InstanceStats,
  | 'uptimeSec'
  | 'messagesInPerSec'
  | 'messagesOutPerSec'
  | 'errorsPerSec'
  | 'bytesInPerSec'
  | 'bytesOutPerSec'
>;

const perSec = (delta: number, ms: number): number =>
  ms > 0 ? Math.round((delta * 1000 * 10) / ms) / 10 : 0;

/** Turns running totals into per-second rates between one sample and the next. */
export class RateSampler {
  private last?: { at: number; totals: Totals };

  sample(now: number, totals: Totals, gauges: Gauges): InstanceStats {
    const last = this.last ?? { at: gauges.startedAt, totals: ZERO };
    const ms = now - last.at;
    this.last = { at: now, totals };
    return {
      ...gauges,
      uptimeSec: Math.max(0, Math.floor((now - gauges.startedAt) / 1000)),
      messagesInPerSec: perSec(totals.messagesIn - last.totals.messagesIn, ms),
      messagesOutPerSec: perSec(
        totals.messagesOut - last.totals.messagesOut,
        ms,
      ),
      errorsPerSec: perSec(totals.errors - last.totals.errors, ms),
      bytesInPerSec: perSec(totals.bytesIn - last.totals.bytesIn, ms),
      bytesOutPerSec: perSec(totals.bytesOut - last.totals.bytesOut, ms),
    };
  }
}

const ZERO: Totals = {
  messagesIn: 0,
  messagesOut: 0,
  errors: 0,
  bytesIn: 0,
  bytesOut: 0,
};

/** The sum of the counts of `[label, count]` pairs (a handful of events or codes). */
export function sumOf(counts: Iterable<readonly [string, number]>): number {
  let sum = 0;
  for (const [, n] of counts) sum += n;
  return sum;
}
