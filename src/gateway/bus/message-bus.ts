/**
 * What travels between instances: a frame already serialized by the publishing instance, so
 * each receiving instance sends the same string to its local sockets.
 */
export interface BusMessage {
  /** Instance that published it; a bus never hands an instance its own messages back. */
  origin: string;
  /** Connection that must not receive it (the sender), if any. */
  exceptId?: string;
  /** The one connection it is for, when it is not for a room or everyone. */
  to?: string;
  /**
   * When it was published (ms since the epoch), for the delivery latency metric. The gateway's
   * services always set it; a message without it is delivered but not measured.
   */
  sentAt?: number;
  /** The serialized frame to deliver. */
  frame: string;
}

/** What a bus has done since it started, for metrics. */
export interface BusStats {
  published: number;
  publishFailures: number;
  received: number;
  malformed: number;
}

/** Called for each message another instance published on a subscribed channel. */
export type BusListener = (message: BusMessage) => void;

/**
 * Carries messages to the other instances of the gateway. The publishing instance delivers to
 * its own sockets itself, so local clients are served even while the bus is down.
 *
 * The default is {@link InMemoryMessageBus} (one instance, nothing to reach); provide another
 * under {@link MESSAGE_BUS} to fan out across instances.
 */
export interface MessageBus {
  /**
   * Publishes to every other instance subscribed to `channel`. Resolves with how many received
   * it, once the bus has accepted the message; rejects when it cannot be sent.
   */
  publish(channel: string, message: BusMessage): Promise<number>;
  /** Starts delivering the channel's messages from other instances to `listener`. */
  subscribe(channel: string, listener: BusListener): Promise<void>;
  /** Stops delivering the channel's messages. */
  unsubscribe(channel: string): Promise<void>;
  /** Whether messages can be published right now (readiness). */
  isReady(): boolean;
  /** Counters for metrics, when the bus keeps them. */
  readonly stats?: BusStats;
}

/** Injection token of the {@link MessageBus}. */
export const MESSAGE_BUS = Symbol('MESSAGE_BUS');
