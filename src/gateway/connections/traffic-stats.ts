import { Injectable } from '@nestjs/common';

/**
 * Counts by label, each in a cell of its own that is incremented in place: one hash lookup per
 * count, where a Map of numbers takes a get and a set. Iterates as `[label, count]` pairs.
 */
export class LabelCounts implements Iterable<[string, number]> {
  private readonly cells = new Map<string, { n: number }>();

  add(label: string, n: number): void {
    const cell = this.cells.get(label);
    if (cell) cell.n += n;
    else this.cells.set(label, { n });
  }

  *[Symbol.iterator](): Iterator<[string, number]> {
    for (const [label, cell] of this.cells) yield [label, cell.n];
  }
}

/**
 * Traffic counters, kept as plain numbers on the hot path and read by the metrics registry only
 * when Prometheus scrapes. Labels are bounded: incoming events are counted under their handler's
 * name, or `unknown`, `invalid`, `text`, `binary`; error codes are the protocol's few.
 */
@Injectable()
export class TrafficStats {
  readonly messagesIn = new LabelCounts();
  /** By event: the request's event for replies, `error`, `text`, or the push's event. */
  readonly messagesOut = new LabelCounts();
  readonly errors = new LabelCounts();
  bytesIn = 0;
  bytesOut = 0;

  received(label: string, bytes: number): void {
    this.messagesIn.add(label, 1);
    this.bytesIn += bytes;
  }

  sent(event: string, bytes: number, count = 1): void {
    this.messagesOut.add(event, count);
    this.bytesOut += bytes * count;
  }

  error(code: string): void {
    this.errors.add(code, 1);
  }
}
