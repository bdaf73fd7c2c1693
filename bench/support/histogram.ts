/**
 * A latency histogram in microseconds with fixed memory: 1 µs buckets below 1 ms, then buckets
 * 1 % wide up to about 60 s. Load workers fill one each and send the non-empty buckets to the
 * orchestrator, which merges them; percentiles are then exact to within 1 %.
 */
const LINEAR = 1000;
const GROWTH = Math.log(1.01);
const BUCKETS = LINEAR + Math.ceil(Math.log(60e6 / LINEAR) / GROWTH) + 1;

/** Non-empty buckets as [index, count] pairs: what crosses the IPC channel. */
export type HistogramData = Array<[number, number]>;

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;

  record(us: number): void {
    let i: number;
    if (us < LINEAR) i = us < 0 ? 0 : Math.floor(us);
    else
      i = Math.min(
        BUCKETS - 1,
        LINEAR + Math.floor(Math.log(us / LINEAR) / GROWTH),
      );
    this.counts[i]++;
    this.count++;
  }

  toData(): HistogramData {
    const out: HistogramData = [];
    for (let i = 0; i < BUCKETS; i++)
      if (this.counts[i] > 0) out.push([i, this.counts[i]]);
    return out;
  }

  merge(data: HistogramData): this {
    for (const [i, n] of data) {
      this.counts[i] += n;
      this.count += n;
    }
    return this;
  }

  /** The value below which `p` (0..1) of the samples lie, in µs; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(BUCKETS - 1);
  }
}

/** The middle of bucket `i`, in µs. */
function valueOf(i: number): number {
  if (i < LINEAR) return i + 0.5;
  const low = LINEAR * Math.exp((i - LINEAR) * GROWTH);
  return low * 1.005;
}
