import {
  RateSampler,
  sumOf,
  type Gauges,
  type Totals,
} from './instance-stats.js';

const STARTED = 1_900_000_000_000;

const gauges: Gauges = {
  id: 'aaaa',
  version: '1.2.3',
  startedAt: STARTED,
  connections: 2,
  rooms: 1,
  bufferedBytes: 10,
  maxBufferedRatio: 0.5,
  bus: 'memory',
  draining: false,
  intervalMs: 2_000,
};

const totals = (n: Partial<Totals> = {}): Totals => ({
  messagesIn: 0,
  messagesOut: 0,
  errors: 0,
  bytesIn: 0,
  bytesOut: 0,
  ...n,
});

describe('RateSampler', () => {
  it('turns the growth of the totals between two samples into per-second rates', () => {
    const sampler = new RateSampler();
    sampler.sample(
      STARTED + 10_000,
      totals({ messagesIn: 100, bytesIn: 1_000 }),
      gauges,
    );
    const second = sampler.sample(
      STARTED + 12_000,
      totals({
        messagesIn: 110,
        messagesOut: 30,
        errors: 1,
        bytesIn: 3_000,
        bytesOut: 9_000,
      }),
      gauges,
    );
    expect(second).toEqual({
      ...gauges,
      uptimeSec: 12,
      messagesInPerSec: 5,
      messagesOutPerSec: 15,
      errorsPerSec: 0.5,
      bytesInPerSec: 1_000,
      bytesOutPerSec: 4_500,
    });
  });

  it('counts the first sample from the start, from zero', () => {
    const first = new RateSampler().sample(
      STARTED + 4_000,
      totals({ messagesIn: 8, errors: 2 }),
      gauges,
    );
    expect(first).toMatchObject({
      uptimeSec: 4,
      messagesInPerSec: 2,
      errorsPerSec: 0.5,
      messagesOutPerSec: 0,
    });
  });

  it('rounds to a tenth, and is 0 for no growth or no time', () => {
    const sampler = new RateSampler();
    sampler.sample(STARTED + 1_000, totals(), gauges);
    expect(
      sampler.sample(STARTED + 4_000, totals({ messagesIn: 1 }), gauges)
        .messagesInPerSec,
    ).toBe(0.3);
    expect(
      sampler.sample(STARTED + 6_000, totals({ messagesIn: 1 }), gauges)
        .messagesInPerSec,
    ).toBe(0);
    expect(
      sampler.sample(STARTED + 6_000, totals({ messagesIn: 5 }), gauges)
        .messagesInPerSec,
    ).toBe(0);
  });

  it('measures each interval from the previous sample, whatever its length', () => {
    const sampler = new RateSampler();
    sampler.sample(STARTED + 1_000, totals(), gauges);
    expect(
      sampler.sample(STARTED + 1_200, totals({ messagesOut: 10 }), gauges)
        .messagesOutPerSec,
    ).toBe(50);
    expect(
      sampler.sample(STARTED + 11_200, totals({ messagesOut: 20 }), gauges)
        .messagesOutPerSec,
    ).toBe(1);
  });

  it('never gives a negative uptime', () => {
    expect(
      new RateSampler().sample(STARTED - 5, totals(), gauges).uptimeSec,
    ).toBe(0);
  });
});

describe('sumOf', () => {
  it('sums a counter map', () => {
    expect(sumOf(new Map())).toBe(0);
    expect(
      sumOf(
        new Map([
          ['echo', 3],
          ['join', 4],
        ]),
      ),
    ).toBe(7);
  });
});
