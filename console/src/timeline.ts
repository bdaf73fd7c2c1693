import type { InstanceView, Series } from './types';

/** What the charts keep: the last ten minutes. */
export const WINDOW_SEC = 600;
/** Instances not heard from for this many intervals count as gone, as the server counts them. */
const STALE_INTERVALS = 3;

type Column = (number | null)[];

/**
 * The charts' data, one row per moment, columns aligned for uPlot: time in seconds, the sums
 * over the instances, and each instance's connections.
 */
export class Timeline {
  readonly t: number[] = [];
  readonly connections: Column = [];
  readonly inRate: Column = [];
  readonly outRate: Column = [];
  readonly perInstance = new Map<string, Column>();

  /**
   * The series each instance kept, summed: instances publish on their own clocks, so their points
   * are put on a common grid of one interval, each instance counting with its latest point until
   * it is stale.
   */
  static fromSeries(series: Series, intervalMs: number): Timeline {
    const line = new Timeline();
    const step = intervalMs > 0 ? intervalMs : 2_000;
    const byId = new Map<string, Map<number, [number, number, number]>>();
    let first = Infinity;
    let last = -Infinity;
    for (const [id, points] of Object.entries(series ?? {})) {
      if (!Array.isArray(points)) continue;
      const buckets = new Map<number, [number, number, number]>();
      for (const p of points) {
        if (!Array.isArray(p) || !Number.isFinite(p[0])) continue;
        const b = Math.round(p[0] / step);
        const prev = buckets.get(b);
        if (!prev || prev[0] <= p[0]) buckets.set(b, [p[1], p[2], p[3]]);
        first = Math.min(first, b);
        last = Math.max(last, b);
      }
      if (buckets.size > 0) byId.set(id, buckets);
    }
    if (!Number.isFinite(first)) return line;
    first = Math.max(first, last - Math.ceil((WINDOW_SEC * 1000) / step));
    const ids = [...byId.keys()].sort();
    for (const id of ids) line.perInstance.set(id, []);
    const latest = new Map<
      string,
      { b: number; v: [number, number, number] }
    >();
    for (let b = first; b <= last; b++) {
      let seen = false;
      let c = 0;
      let i = 0;
      let o = 0;
      for (const id of ids) {
        const v = byId.get(id)!.get(b);
        if (v) latest.set(id, { b, v });
        const l = latest.get(id);
        const column = line.perInstance.get(id)!;
        if (l && b - l.b < STALE_INTERVALS) {
          seen = true;
          c += l.v[0];
          i += l.v[1];
          o += l.v[2];
          column.push(l.v[0]);
        } else {
          column.push(null);
        }
      }
      line.t.push((b * step) / 1000);
      line.connections.push(seen ? c : null);
      line.inRate.push(seen ? i : null);
      line.outRate.push(seen ? o : null);
    }
    line.forgetEmpty();
    return line;
  }

  /**
   * The page's own rows from before `next` begins, then `next`: a console that reconnects to an
   * instance that has just started (a restart, another instance behind the balancer) keeps the
   * minutes it had already drawn. A gap longer than two intervals stays a gap in the lines.
   */
  static continued(
    previous: Timeline,
    next: Timeline,
    intervalMs: number,
  ): Timeline {
    if (previous.length === 0) return next;
    if (next.length === 0) return previous;
    const first = next.t[0];
    let kept = 0;
    while (kept < previous.length && previous.t[kept] < first) kept++;
    if (kept === 0) return next;
    const merged = new Timeline();
    const ids = new Set([
      ...previous.perInstance.keys(),
      ...next.perInstance.keys(),
    ]);
    for (const id of ids) merged.perInstance.set(id, []);
    const copy = (from: Timeline, k: number) => {
      merged.t.push(from.t[k]);
      merged.connections.push(from.connections[k]);
      merged.inRate.push(from.inRate[k]);
      merged.outRate.push(from.outRate[k]);
      for (const [id, column] of merged.perInstance)
        column.push(from.perInstance.get(id)?.[k] ?? null);
    };
    for (let k = 0; k < kept; k++) copy(previous, k);
    const stepSec = (intervalMs > 0 ? intervalMs : 2_000) / 1000;
    const lastKept = previous.t[kept - 1];
    if (first - lastKept > 2 * stepSec) {
      merged.t.push(lastKept + stepSec);
      for (const column of [
        merged.connections,
        merged.inRate,
        merged.outRate,
        ...merged.perInstance.values(),
      ]) {
        column.push(null);
      }
    }
    for (let k = 0; k < next.length; k++) copy(next, k);
    merged.trim();
    merged.forgetEmpty();
    return merged;
  }

  get length(): number {
    return this.t.length;
  }

  append(atMs: number, instances: InstanceView[]): void {
    const t = atMs / 1000;
    if (!Number.isFinite(t)) return;
    const live = instances.filter((x) => !x.gone);
    let c = 0;
    let i = 0;
    let o = 0;
    for (const x of live) {
      c += x.connections;
      i += x.messagesInPerSec;
      o += x.messagesOutPerSec;
    }
    const values = new Map(live.map((x) => [x.id, x.connections]));
    // A frame no later than the last row (the hello's grid rounds up, or the clock stepped back)
    // replaces it rather than putting time out of order.
    const replace = this.t.length > 0 && t <= this.t[this.t.length - 1];
    if (!replace) this.t.push(t);
    const n = this.t.length;
    const put = (column: Column, v: number | null) => {
      if (replace) column[n - 1] = v;
      else column.push(v);
    };
    put(this.connections, c);
    put(this.inRate, i);
    put(this.outRate, o);
    for (const id of values.keys()) {
      if (!this.perInstance.has(id))
        this.perInstance.set(
          id,
          Array.from({ length: replace ? n : n - 1 }, () => null),
        );
    }
    for (const [id, column] of this.perInstance)
      put(column, values.get(id) ?? null);
    this.trim();
  }

  lastConnections(): number {
    return lastOf(this.connections);
  }

  lastMessages(): number {
    const n = this.t.length;
    if (n === 0) return 0;
    return (this.inRate[n - 1] ?? 0) + (this.outRate[n - 1] ?? 0);
  }

  private trim(): void {
    const from = this.t[this.t.length - 1] - WINDOW_SEC;
    let drop = 0;
    while (drop < this.t.length && this.t[drop] < from) drop++;
    if (drop === 0) return;
    for (const column of [
      this.t,
      this.connections,
      this.inRate,
      this.outRate,
      ...this.perInstance.values(),
    ]) {
      column.splice(0, drop);
    }
    this.forgetEmpty();
  }

  /** An instance forgotten for the whole window takes its line with it. */
  private forgetEmpty(): void {
    for (const [id, column] of this.perInstance) {
      if (column.every((v) => v === null)) this.perInstance.delete(id);
    }
  }
}

function lastOf(column: Column): number {
  for (let k = column.length - 1; k >= 0; k--) {
    const v = column[k];
    if (v !== null) return v;
  }
  return 0;
}
