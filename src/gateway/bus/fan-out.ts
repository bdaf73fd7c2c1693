import { GatewayError } from '../../protocol/gateway-error.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import type { BusListener, BusMessage, MessageBus } from './message-bus.js';

/** What a service hands to {@link FanOut.publish}; the origin and send time are stamped there. */
export type OutgoingMessage = Pick<BusMessage, 'frame' | 'exceptId' | 'to'>;

/**
 * The one way between the gateway's services and the message bus, shared by broadcasts, room
 * messages and direct messages. Each of them once built its own bus message, and broadcasts went
 * out without `sentAt`, so they never reached the delivery latency histogram; with the stamping,
 * the measuring and the failure here, the three cannot drift apart again.
 *
 * Latency is measured here, on arrival, rather than inside a bus, so that it is the same for
 * every bus: Redis, the in-memory one, or a host's own. It belongs with the stamping of `sentAt`
 * it is measured from. Counting what is published and received is not done here: the bus every
 * service is given is already measured (`InstrumentedMessageBus`), whoever uses it.
 */
export class FanOut {
  constructor(
    private readonly bus: MessageBus,
    private readonly instanceId: string,
    private readonly metrics?: GatewayMetrics,
  ) {}

  /**
   * Publishes to the other instances listening on `channel`, stamped with this instance as the
   * origin and with the time of sending. Resolves with how many instances received it; rejects
   * with `UNAVAILABLE` when the bus cannot take it, the message starting with `failure()`
   * (what was not done).
   */
  async publish(
    channel: string,
    message: OutgoingMessage,
    failure: () => string,
  ): Promise<number> {
    try {
      return await this.bus.publish(channel, {
        origin: this.instanceId,
        exceptId: message.exceptId,
        to: message.to,
        sentAt: Date.now(),
        frame: message.frame,
      });
    } catch {
      // The cause (Redis down, slow) is in the bus's log lines and metrics, not for clients.
      throw GatewayError.unavailable(
        `${failure()}: the message bus is unavailable`,
      );
    }
  }

  /**
   * Hands `listener` the messages other instances publish on `channel`, each one observed in the
   * delivery latency histogram first.
   */
  subscribe(channel: string, listener: BusListener): Promise<void> {
    return this.bus.subscribe(channel, (message) => {
      if (message.sentAt !== undefined)
        this.metrics?.arrivedFromBus(Date.now() - message.sentAt);
      listener(message);
    });
  }

  /** Stops handing on the channel's messages. */
  unsubscribe(channel: string): Promise<void> {
    return this.bus.unsubscribe(channel);
  }
}
