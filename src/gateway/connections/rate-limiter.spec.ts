import { describe, expect, it } from 'vitest';
import {
  RateLimiter,
  type RateLimits,
  type RateVerdict,
} from './rate-limiter.js';

const LIMITS: RateLimits = {
  perSecond: 10,
  burst: 5,
  bytesPerSecond: 1000,
  bytesBurst: 500,
  fanoutBytesPerSecond: 10_000,
};

describe('RateLimiter', () => {
  it('allows a burst of messages, refuses the next, and refills at the rate', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    for (let i = 0; i < 5; i++) expect(limiter.take(0, 1)).toBe('allow');
    expect(limiter.take(0, 1)).toBe('messages');
    // 10 per second: one token every 100 ms, never more than the burst.
    expect(limiter.take(99, 1)).toBe('messages');
    // 200 ms since the burst was spent: two tokens.
    expect(limiter.take(200, 1)).toBe('allow');
    expect(limiter.take(200, 1)).toBe('allow');
    expect(limiter.take(200, 1)).toBe('messages');
    expect(limiter.take(60_000, 1)).toBe('allow');
    for (let i = 0; i < 4; i++) expect(limiter.take(60_000, 1)).toBe('allow');
    expect(limiter.take(60_000, 1)).toBe('messages');
  });

  it('refuses a message larger than the bytes left, and takes nothing for it', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    expect(limiter.take(0, 400)).toBe('allow');
    expect(limiter.take(0, 200)).toBe('bytes');
    // The refused message took no message token and no bytes: 100 bytes are still there.
    expect(limiter.take(0, 100)).toBe('allow');
    expect(limiter.take(0, 1)).toBe('bytes');
    expect(limiter.take(100, 100)).toBe('allow');
  });

  it('holds every message after a fan-out charge until the budget has paid it back', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    expect(limiter.take(0, 1)).toBe('allow');
    // Twice the second's budget: paid back after 1 s of the 10,000 bytes per second.
    limiter.chargeFanout(20_000, 0);
    expect(limiter.take(0, 1)).toBe('fanout');
    expect(limiter.take(999, 1)).toBe('fanout');
    expect(limiter.take(1000, 1)).toBe('allow');
  });

  it('refills every bucket by the same elapsed time, whichever call reads it first', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    for (let i = 0; i < 5; i++) expect(limiter.take(0, 100)).toBe('allow');
    // A small fan-out charge reads the buckets at 200 ms: two message tokens and 200 bytes
    // come back, neither lost nor counted twice when a message reads them at the same instant.
    limiter.chargeFanout(1, 200);
    // [now, size, verdict]; 100 ms after that, one message token and 100 bytes more.
    const steps: Array<[number, number, RateVerdict]> = [
      [200, 100, 'allow'],
      [200, 100, 'allow'],
      [200, 1, 'messages'],
      [300, 150, 'bytes'],
      [300, 100, 'allow'],
      [300, 1, 'messages'],
    ];
    expect(steps.map(([now, size]) => limiter.take(now, size))).toEqual(
      steps.map(([, , verdict]) => verdict),
    );
  });

  it('says close once the refusals within one second pass the burst', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    for (let i = 0; i < 5; i++) limiter.take(0, 1);
    for (let i = 0; i < 5; i++) expect(limiter.take(0, 1)).toBe('messages');
    expect(limiter.take(0, 1)).toBe('close');
  });

  it('counts refusals per second: a client that slows down is not closed', () => {
    const limiter = new RateLimiter(LIMITS, 0);
    for (let i = 0; i < 5; i++) limiter.take(0, 1);
    for (let i = 0; i < 5; i++) expect(limiter.take(0, 1)).toBe('messages');
    // A new one-second window: the count starts again (the bucket has refilled meanwhile).
    expect(limiter.take(1000, 1)).toBe('allow');
    for (let i = 0; i < 4; i++) limiter.take(1000, 1);
    for (let i = 0; i < 5; i++) expect(limiter.take(1000, 1)).toBe('messages');
  });
});
