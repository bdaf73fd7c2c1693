import { describe, expect, it } from 'vitest';
import { LabelCounts, TrafficStats } from './traffic-stats.js';

describe('LabelCounts', () => {
  it('adds per label and iterates [label, count] in first-counted order', () => {
    const counts = new LabelCounts();
    counts.add('echo', 1);
    counts.add('join', 2);
    counts.add('echo', 3);
    expect([...counts]).toEqual([
      ['echo', 4],
      ['join', 2],
    ]);
  });
});

describe('TrafficStats', () => {
  it('counts messages by label and bytes in total', () => {
    const traffic = new TrafficStats();
    traffic.received('echo', 10);
    traffic.received('echo', 5);
    traffic.sent('push', 7, 3);
    traffic.error('BAD_REQUEST');
    expect([...traffic.messagesIn]).toEqual([['echo', 2]]);
    expect([...traffic.messagesOut]).toEqual([['push', 3]]);
    expect([...traffic.errors]).toEqual([['BAD_REQUEST', 1]]);
    expect(traffic.bytesIn).toBe(15);
    expect(traffic.bytesOut).toBe(21);
  });
});
