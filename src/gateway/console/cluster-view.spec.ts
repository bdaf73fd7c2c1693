import {
  ClusterView,
  FORGET_AFTER_MS,
  GONE_AFTER_INTERVALS,
  SERIES_MS,
} from './cluster-view.js';
import type { InstanceStats } from '../../protocol/console.js';

const INTERVAL = 2_000;
const T0 = 1_900_000_000_000;

function stats(id: string, more: Partial<InstanceStats> = {}): InstanceStats {
  return {
    id,
    version: '1.2.3',
    startedAt: T0 - 60_000,
    uptimeSec: 60,
    connections: 3,
    rooms: 1,
    messagesInPerSec: 1.5,
    messagesOutPerSec: 2.5,
    errorsPerSec: 0.5,
    bytesInPerSec: 100,
    bytesOutPerSec: 200,
    bufferedBytes: 0,
    maxBufferedRatio: 0,
    bus: 'ready',
    draining: false,
    intervalMs: INTERVAL,
    ...more,
  };
}

const ids = (view: ClusterView, now: number) => view.list(now).map((i) => i.id);

describe('ClusterView', () => {
  it('lists every instance heard of, by id, with its last numbers and when they came', () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('bbbb'), T0);
    view.update(stats('aaaa', { connections: 1 }), T0 + 10);
    view.update(stats('aaaa', { connections: 7 }), T0 + 20);
    expect(view.list(T0 + 30)).toEqual([
      { ...stats('aaaa', { connections: 7 }), lastSeen: T0 + 20, gone: false },
      { ...stats('bbbb'), lastSeen: T0, gone: false },
    ]);
    expect(view.live(T0 + 30).sort()).toEqual(['aaaa', 'bbbb']);
  });

  it(`marks an instance gone after ${GONE_AFTER_INTERVALS} silent intervals, and live again when it speaks`, () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('aaaa'), T0);
    const limit = T0 + GONE_AFTER_INTERVALS * INTERVAL;
    expect(view.list(limit)[0].gone).toBe(false);
    expect(view.live(limit)).toEqual(['aaaa']);
    expect(view.list(limit + 1)[0].gone).toBe(true);
    expect(view.live(limit + 1)).toEqual([]);
    view.update(stats('aaaa'), limit + 2);
    expect(view.list(limit + 3)[0]).toMatchObject({
      gone: false,
      lastSeen: limit + 2,
    });
  });

  it("measures silence in its own interval when an instance's numbers do not say theirs", () => {
    const view = new ClusterView(200);
    const { intervalMs: _, ...older } = stats('aaaa');
    view.update(older as InstanceStats, T0);
    expect(view.list(T0 + 600)[0].gone).toBe(false);
    expect(view.list(T0 + 601)[0].gone).toBe(true);
  });

  it('forgets an instance silent for 5 minutes, its series too', () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('aaaa'), T0);
    view.update(stats('bbbb'), T0);
    view.update(stats('bbbb'), T0 + FORGET_AFTER_MS);
    expect(ids(view, T0 + FORGET_AFTER_MS)).toEqual(['aaaa', 'bbbb']);
    expect(view.list(T0 + FORGET_AFTER_MS)[0].gone).toBe(true);
    expect(ids(view, T0 + FORGET_AFTER_MS + 1)).toEqual(['bbbb']);
    expect(Object.keys(view.series())).toEqual(['bbbb']);
  });

  // An instance's id is new at every start: without a console open, nobody lists the view, and
  // the instances of every restart would be kept for good.
  it('forgets silent instances as it hears from the others, though nobody lists them', () => {
    const view = new ClusterView(INTERVAL);
    for (let i = 0; i < 50; i++) view.update(stats(`old${i}`), T0 + i);
    for (let t = T0; t <= T0 + FORGET_AFTER_MS + 60_000; t += INTERVAL)
      view.update(stats('self'), t);
    expect(Object.keys(view.series())).toEqual(['self']);
    expect(view.live(T0 + FORGET_AFTER_MS + 60_000)).toEqual(['self']);
  });

  it('keeps a point per update, [at, connections, in/s, out/s, errors/s], ten minutes of them', () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('aaaa'), T0);
    view.update(stats('aaaa', { connections: 4 }), T0 + INTERVAL);
    expect(view.series()).toEqual({
      aaaa: [
        [T0, 3, 1.5, 2.5, 0.5],
        [T0 + INTERVAL, 4, 1.5, 2.5, 0.5],
      ],
    });
    const cap = Math.ceil(SERIES_MS / INTERVAL) + 1;
    const updates = cap + 40;
    for (let i = 2; i < updates; i++)
      view.update(stats('aaaa', { connections: i }), T0 + i * INTERVAL);
    const series = view.series().aaaa;
    expect(series).toHaveLength(cap);
    expect(series[0]).toEqual([T0 + 40 * INTERVAL, 40, 1.5, 2.5, 0.5]);
    expect(series.at(-1)![0]).toBe(T0 + (updates - 1) * INTERVAL);
    // About ten minutes, whatever the interval.
    expect(series.at(-1)![0] - series[0][0]).toBe(SERIES_MS);
  });

  it('caps the series of a short interval by time too', () => {
    const view = new ClusterView(200);
    for (let i = 0; i < 4_000; i++) view.update(stats('aaaa'), T0 + i * 200);
    const series = view.series().aaaa;
    expect(series).toHaveLength(Math.ceil(SERIES_MS / 200) + 1);
    expect(series.at(-1)![0] - series[0][0]).toBe(SERIES_MS);
  });

  it('hands out copies of the series', () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('aaaa'), T0);
    view.series().aaaa.push([0, 0, 0, 0, 0]);
    expect(view.series().aaaa).toHaveLength(1);
  });

  it("judges an instance's silence by the interval it publishes at", () => {
    const view = new ClusterView(INTERVAL);
    view.update(stats('slow', { intervalMs: 10 * INTERVAL }), T0);
    view.update(stats('fast', { intervalMs: INTERVAL }), T0);
    const later = T0 + GONE_AFTER_INTERVALS * INTERVAL + 1;
    expect(view.live(later)).toEqual(['slow']);
    expect(view.live(T0 + GONE_AFTER_INTERVALS * 10 * INTERVAL + 1)).toEqual(
      [],
    );
  });
});
