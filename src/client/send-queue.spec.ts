import { QueueFullError } from './errors.js';
import { SendQueue } from './send-queue.js';

describe('SendQueue', () => {
  it('keeps items in order up to the limit, then throws QueueFullError', () => {
    const queue = new SendQueue<{ n: number }>(3);
    for (const n of [1, 2, 3]) queue.push({ n });
    expect(() => queue.push({ n: 4 })).toThrow(QueueFullError);
    expect(() => queue.push({ n: 4 })).toThrow('3 messages already queued');
    expect(queue.size).toBe(3);
    expect(queue.drain().map((i) => i.n)).toEqual([1, 2, 3]);
    expect(queue.size).toBe(0);
  });

  it('frees a place when an item is removed', () => {
    const queue = new SendQueue<{ n: number }>(2);
    const first = { n: 1 };
    queue.push(first);
    queue.push({ n: 2 });
    expect(queue.remove(first)).toBe(true);
    expect(queue.remove(first)).toBe(false);
    queue.push({ n: 3 });
    expect(queue.drain().map((i) => i.n)).toEqual([2, 3]);
  });

  it('refuses everything with a limit of 0', () => {
    const queue = new SendQueue<object>(0);
    let error: unknown;
    try {
      queue.push({});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).limit).toBe(0);
  });

  it('takes any number with a limit of Infinity', () => {
    const queue = new SendQueue<object>(Infinity);
    for (let i = 0; i < 10_000; i++) queue.push({});
    expect(queue.size).toBe(10_000);
  });
});
