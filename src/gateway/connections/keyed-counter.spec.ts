import { KeyedCounter } from './keyed-counter.js';

describe('KeyedCounter', () => {
  it('counts per key, 0 for a key never seen', () => {
    const counter = new KeyedCounter();
    counter.increment('a');
    counter.increment('a');
    counter.increment('b');
    expect(counter.count('a')).toBe(2);
    expect(counter.count('b')).toBe(1);
    expect(counter.count('c')).toBe(0);
    expect(counter.size).toBe(2);
  });

  it('deletes a key when its count falls to 0, so it holds only keys in use', () => {
    const counter = new KeyedCounter();
    for (let i = 0; i < 1000; i++) {
      counter.increment(`10.0.${i >> 8}.${i & 255}`);
      counter.decrement(`10.0.${i >> 8}.${i & 255}`);
    }
    expect(counter.size).toBe(0);
    counter.increment('a');
    counter.increment('a');
    counter.decrement('a');
    expect(counter.count('a')).toBe(1);
    expect(counter.size).toBe(1);
    counter.decrement('a');
    expect(counter.size).toBe(0);
  });

  it('ignores a decrement of a key it does not hold (never negative)', () => {
    const counter = new KeyedCounter();
    counter.decrement('a');
    expect(counter.count('a')).toBe(0);
    expect(counter.size).toBe(0);
    counter.increment('a');
    expect(counter.count('a')).toBe(1);
  });
});
