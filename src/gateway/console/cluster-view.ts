import type {
  InstanceStats,
  InstanceView,
  Series,
  SeriesPoint,
} from '../../protocol/console.js';

/** Intervals an instance may stay silent before it is shown as gone. */
export const GONE_AFTER_INTERVALS = 3;
/** How long a gone instance stays listed. */
export const FORGET_AFTER_MS = 5 * 60_000;
/** How much of each instance's series is kept for a console that opens. */
export const SERIES_MS = 10 * 60_000;

interface Entry {
  stats: InstanceStats;
  lastSeen: number;
  series: SeriesPoint[];
}

/**
 * The instances of the cluster as one instance hears of them (its own numbers, and those the
 * others publish): the last numbers of each, a few minutes of series, and who went silent.
 */
export class ClusterView {
  private readonly entries = new Map<string, Entry>();
  private readonly maxPoints: number;

  constructor(private readonly intervalMs: number) {
    this.maxPoints = Math.ceil(SERIES_MS / intervalMs) + 1;
  }

  /** Takes an instance's numbers, heard at `now`. */
  update(stats: InstanceStats, now: number): void {
    // Here, not only when listed: nobody lists the view while no console is open, and every
    // restart of an instance is a new id.
    this.forget(now);
    let entry = this.entries.get(stats.id);
    if (!entry) {
      entry = { stats, lastSeen: now, series: [] };
      this.entries.set(stats.id, entry);
    }
    entry.stats = stats;
    entry.lastSeen = now;
    entry.series.push([
      now,
      stats.connections,
      stats.messagesInPerSec,
      stats.messagesOutPerSec,
      stats.errorsPerSec,
    ]);
    if (entry.series.length > this.maxPoints)
      entry.series.splice(0, entry.series.length - this.maxPoints);
  }

  /** Every instance heard of in the last {@link FORGET_AFTER_MS}, silent ones marked gone. */
  list(now: number): InstanceView[] {
    this.forget(now);
    const views: InstanceView[] = [];
    for (const entry of this.entries.values()) {
      views.push({
        ...entry.stats,
        lastSeen: entry.lastSeen,
        gone: this.isGone(entry, now),
      });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The ids of the instances not gone. */
  live(now: number): string[] {
    const ids: string[] = [];
    for (const [id, entry] of this.entries)
      if (!this.isGone(entry, now)) ids.push(id);
    return ids;
  }

  /** The kept series of every instance. */
  series(): Series {
    const all: Series = {};
    for (const [id, entry] of this.entries) all[id] = [...entry.series];
    return all;
  }

  /** Drops the instances silent for longer than {@link FORGET_AFTER_MS}. */
  private forget(now: number): void {
    for (const [id, entry] of this.entries)
      if (now - entry.lastSeen > FORGET_AFTER_MS) this.entries.delete(id);
  }

  private isGone(entry: Entry, now: number): boolean {
    // By the instance's own interval: instances configured apart still judge each other right.
    const interval =
      typeof entry.stats.intervalMs === 'number' && entry.stats.intervalMs > 0
        ? entry.stats.intervalMs
        : this.intervalMs;
    return now - entry.lastSeen > GONE_AFTER_INTERVALS * interval;
  }
}
