import { QueueFullError } from './errors.js';

/**
 * Frames waiting for a connection, in the order they were sent, up to a bound: past it, `push`
 * throws {@link QueueFullError} instead of growing without limit while the server is away. A Set
 * keeps insertion order and lets a request that timed out leave the queue in O(1).
 */
export class SendQueue<T extends object> {
  private readonly items = new Set<T>();

  /** `limit`: how many frames may wait; 0 refuses every send while disconnected. */
  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.size;
  }

  /** Appends an item; throws {@link QueueFullError} when `limit` items already wait. */
  push(item: T): void {
    if (this.items.size >= this.limit) throw new QueueFullError(this.limit);
    this.items.add(item);
  }

  /** Takes an item out (a request that timed out before it could be sent). */
  remove(item: T): boolean {
    return this.items.delete(item);
  }

  /** Every item, oldest first, leaving the queue empty. */
  drain(): T[] {
    const all = [...this.items];
    this.items.clear();
    return all;
  }
}
