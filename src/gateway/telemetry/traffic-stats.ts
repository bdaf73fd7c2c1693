import { Injectable } from '@nestjs/common';

/** What an outgoing frame is: a reply, an error frame, a plain-text answer, or a push. */
export type OutKind = 'reply' | 'error' | 'text' | 'push';

/**
 * Traffic counters, kept as plain numbers on the hot path and read by the metrics registry only
 * when Prometheus scrapes. Labels are bounded: incoming events are counted under their handler's
 * name, or `unknown`, `invalid`, `text`, `binary`; error codes are the protocol's few.
 */
@Injectable()
export class TrafficStats {
  readonly messagesIn = new Map<string, number>();
  readonly messagesOut: Record<OutKind, number> = {
    reply: 0,
    error: 0,
    text: 0,
    push: 0,
  };
  readonly errors = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;

  received(label: string, bytes: number): void {
    this.messagesIn.set(label, (this.messagesIn.get(label) ?? 0) + 1);
    this.bytesIn += bytes;
  }

  sent(kind: OutKind, bytes: number, count = 1): void {
    this.messagesOut[kind] += count;
    this.bytesOut += bytes * count;
  }

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}
