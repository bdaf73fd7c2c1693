// Test helpers for the unit specs: never exported from src/index.ts, never used by the app.
import type {
  BusListener,
  BusMessage,
  MessageBus,
} from '../../src/gateway/bus/message-bus.js';

/**
 * A {@link MessageBus} whose broker went away: it records subscriptions (as a real bus keeps
 * them, to restore later) but every publish rejects.
 */
export class UnavailableBus implements MessageBus {
  /** What was handed to `publish`, with its channel. */
  readonly published: { channel: string; message: BusMessage }[] = [];
  readonly subscriptions = new Map<string, BusListener>();

  constructor(private readonly reason = 'connection is closed') {}

  publish(channel: string, message: BusMessage): Promise<number> {
    this.published.push({ channel, message });
    return Promise.reject(new Error(this.reason));
  }

  subscribe(channel: string, listener: BusListener): Promise<void> {
    this.subscriptions.set(channel, listener);
    return Promise.resolve();
  }

  unsubscribe(channel: string): Promise<void> {
    this.subscriptions.delete(channel);
    return Promise.resolve();
  }

  isReady(): boolean {
    return false;
  }
}
