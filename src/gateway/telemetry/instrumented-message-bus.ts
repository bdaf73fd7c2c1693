import { Injectable } from '@nestjs/common';
import type {
  BusListener,
  BusMessage,
  MessageBus,
} from '../bus/message-bus.js';

/**
 * What the gateway's message bus has done since start, as plain numbers read by the metrics
 * registry only when Prometheus scrapes (like the traffic counters).
 */
@Injectable()
export class BusCounts {
  /** Messages the bus accepted for the other instances. */
  published = 0;
  /** Messages the bus refused (down, too slow): their acknowledgements said UNAVAILABLE. */
  publishFailures = 0;
  /** Messages from other instances handed to a listener here. */
  received = 0;
  /**
   * Messages on the gateway's channels that the bus could not decode and dropped (another
   * program or version publishing there), as the Redis bus reports them through its
   * `onMalformed` option.
   */
  malformed = 0;
}

/**
 * Measures any {@link MessageBus}: it passes every call through to the bus it wraps and counts
 * in {@link BusCounts} what was published, what failed to be, and what was received. The gateway
 * puts it around whichever bus it is given, so a host's own bus is measured exactly as the
 * built-in ones are, and no bus has to keep counters of its own.
 *
 * Received means handed to a listener: a bus that never delivers an instance its own messages,
 * or drops what it cannot decode, is counted after that filtering, as it should be.
 */
export class InstrumentedMessageBus implements MessageBus {
  constructor(
    /** The bus that carries the messages: readiness names it, not this wrapper. */
    readonly inner: MessageBus,
    readonly counts: BusCounts = new BusCounts(),
  ) {}

  async publish(channel: string, message: BusMessage): Promise<number> {
    let reached: number;
    try {
      reached = await this.inner.publish(channel, message);
    } catch (err) {
      this.counts.publishFailures++;
      throw err;
    }
    this.counts.published++;
    return reached;
  }

  subscribe(channel: string, listener: BusListener): Promise<void> {
    return this.inner.subscribe(channel, (message) => {
      this.counts.received++;
      listener(message);
    });
  }

  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }

  isReady(): boolean {
    return this.inner.isReady();
  }
}
