/**
 * How many of something each key has (connections per principal, per address). A key whose
 * count falls to 0 is deleted, so the map never holds more keys than there are things counted:
 * clients that come and go with ever new addresses cannot grow it.
 */
export class KeyedCounter {
  private readonly counts = new Map<string, number>();

  /** Keys with a count above 0. */
  get size(): number {
    return this.counts.size;
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  increment(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  decrement(key: string): void {
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }
}
