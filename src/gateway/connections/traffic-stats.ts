import { Injectable } from '@nestjs/common';

/**
 * Traffic counters, kept as plain numbers on the hot path and read by the metrics registry only
 * when Prometheus scrapes. Labels are bounded: incoming events are counted under their handler's
 * name, or `unknown`, `invalid`, `text`, `binary`; error codes are the protocol's few.
 */
@Injectable()
export class TrafficStats {
  readonly messagesIn = new Map<string, number>();
  /** By event: the request's event for replies, `error`, `text`, or the push's event. */
  readonly messagesOut = new Map<string, number>();
  readonly errors = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;

  received(label: string, bytes: number): void {
    this.messagesIn.set(label, (this.messagesIn.get(label) ?? 0) + 1);
    this.bytesIn += bytes;
  }

  sent(event: string, bytes: number, count = 1): void {
    this.messagesOut.set(event, (this.messagesOut.get(event) ?? 0) + count);
    this.bytesOut += bytes * count;
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
