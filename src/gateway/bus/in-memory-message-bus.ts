import { Logger } from '@nestjs/common';
import type { BusListener, BusMessage, MessageBus } from './message-bus.js';

/**
 * Where in-memory buses meet. Buses built on the same hub reach each other (several gateway
 * apps in one process); each bus built without one has a hub of its own, and so no peers.
 */
export class InMemoryHub {
  readonly subscribers = new Map<
    string,
    Map<InMemoryMessageBus, BusListener>
  >();
}

/**
 * The embedded default: the message bus of a single instance, or of instances sharing one
 * process through an {@link InMemoryHub}. Delivery is synchronous, in publish order.
 */
export class InMemoryMessageBus implements MessageBus {
  private readonly logger = new Logger(InMemoryMessageBus.name);

  constructor(private readonly hub: InMemoryHub = new InMemoryHub()) {}

  publish(channel: string, message: BusMessage): Promise<number> {
    const listeners = this.hub.subscribers.get(channel);
    let reached = 0;
    if (listeners) {
      for (const [bus, listener] of listeners) {
        if (bus === this) continue;
        reached++;
        try {
          listener(message);
        } catch (err) {
          // One subscriber's fault must not cost the others their delivery.
          this.logger.error({ err, channel }, 'bus listener failed');
        }
      }
    }
    return Promise.resolve(reached);
  }

  subscribe(channel: string, listener: BusListener): Promise<void> {
    let listeners = this.hub.subscribers.get(channel);
    if (!listeners) {
      listeners = new Map();
      this.hub.subscribers.set(channel, listeners);
    }
    listeners.set(this, listener);
    return Promise.resolve();
  }

  isReady(): boolean {
    return true;
  }

  unsubscribe(channel: string): Promise<void> {
    const listeners = this.hub.subscribers.get(channel);
    if (listeners?.delete(this) && listeners.size === 0) {
      this.hub.subscribers.delete(channel);
    }
    return Promise.resolve();
  }
}
