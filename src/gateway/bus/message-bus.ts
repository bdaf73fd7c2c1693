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
  /** A room message's offset in its room's stream, when the room keeps history. */
  offset?: number;
  /** The life of the stream `offset` counts in (see `StreamPosition`). */
  epoch?: string;
}

/** Called for each message another instance published on a subscribed channel. */
export type BusListener = (message: BusMessage) => void;

/**
 * Carries messages to the other instances of the gateway. The publishing instance delivers to
 * its own sockets itself, so local clients are served even while the bus is down.
 *
 * Transport only: a bus keeps no metrics. The gateway wraps whichever bus it is given (the
 * in-memory default, Redis, or a host's own through the `bus` option) in one that counts what is
 * published and received, so every bus is measured the same way without knowing it.
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
}

/**
 * Injection token of the {@link MessageBus} the gateway's services use: the configured bus,
 * measured. Inject it to publish or subscribe from a host's own code; to choose the bus, pass
 * the `bus` (or `redis`) option of `GatewayModule.forRoot` rather than providing this token.
 */
export const MESSAGE_BUS = Symbol('MESSAGE_BUS');

/**
 * The bus as configured (the `bus` option, Redis, or the in-memory default), before it is
 * measured. Internal: only the gateway module wraps it; every service injects {@link MESSAGE_BUS}.
 * A separate provider so that Nest runs the configured bus's own lifecycle hooks (Redis closes
 * its connections on shutdown), after those of the services that use it.
 */
export const CONFIGURED_BUS = Symbol('CONFIGURED_BUS');
