import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { decodeBusMessage, encodeBusMessage } from './bus-codec.js';
import {
  CHANNEL_PREFIX_SEPARATOR,
  ChannelPrefixError,
  isChannelPrefix,
  redisChannel,
} from './channels.js';
import type { BusListener, BusMessage, MessageBus } from './message-bus.js';
import { RedisConnection } from './redis-connection.js';

/** Where the Redis bus connects, and how it names its channels. */
export interface RedisBusOptions {
  /** `redis://[:password@]host[:port][/db]` or `rediss://...` */
  url: string;
  /**
   * Starts every channel name (`<prefix>|<channel>`), so that several deployments can share one
   * Redis. Must not contain `|`.
   */
  channelPrefix: string;
  /** This instance's id: messages it published itself are not handed back to it. */
  instanceId: string;
  /**
   * Called with the bus channel of each message on a subscribed channel that is not in the
   * bus's wire format (another program, or another version, publishing there); the message is
   * dropped. The gateway counts these; a bus built by hand may log them or leave this out.
   */
  onMalformed?: (channel: string) => void;
}

/** SUBSCRIBE arguments per command when restoring many channels after a reconnect. */
const RESUBSCRIBE_BATCH = 1_000;

/**
 * Fan-out across instances through Redis pub/sub, with two connections (a subscribed one can
 * do nothing else).
 *
 * Nothing is queued while Redis is away: ioredis's offline queue is off, and so is the resending
 * of commands that were in flight when the connection dropped. A publish during an outage fails
 * at once (the caller's acknowledgement says so) instead of "succeeding" and arriving seconds
 * later or never. Subscriptions are the bus's own state: it restores all of them whenever the
 * subscriber connection is ready again, so fan-out resumes by itself.
 */
export class RedisMessageBus implements MessageBus, OnApplicationShutdown {
  private readonly logger = new Logger('RedisBus');
  private readonly publisher: RedisConnection;
  private readonly subscriber: RedisConnection;
  /** full channel name -> listener: what this instance wants to hear, whatever Redis's state */
  private readonly listeners = new Map<string, BusListener>();
  /** Throws {@link ChannelPrefixError} for a prefix with `|`, before connecting. */
  constructor(private readonly options: RedisBusOptions) {
    if (!isChannelPrefix(options.channelPrefix))
      throw new ChannelPrefixError(options.channelPrefix);
    const common = {
      url: options.url,
      logger: this.logger,
      whenLost: 'local delivery continues, fan-out paused',
    };
    this.publisher = new RedisConnection({
      ...common,
      name: 'gateway-publisher',
      role: 'publisher',
    });
    this.subscriber = new RedisConnection({
      ...common,
      name: 'gateway-subscriber',
      role: 'subscriber',
      subscriber: true,
    });
    this.subscriber.redis.on('ready', () => void this.resubscribe());
    this.subscriber.redis.on('message', (channel: string, raw: string) =>
      this.receive(channel, raw),
    );
  }

  isReady(): boolean {
    return this.publisher.isReady() && this.subscriber.isReady();
  }

  /** Channels this instance listens on. */
  get subscriptionCount(): number {
    return this.listeners.size;
  }

  async publish(channel: string, message: BusMessage): Promise<number> {
    const full = redisChannel(this.options.channelPrefix, channel);
    const receivers = await this.publisher.call((redis) =>
      redis.publish(full, encodeBusMessage(message)),
    );
    // Our own subscriber is one of the receivers when this instance listens on the channel.
    const self = this.listeners.has(full) && this.subscriber.isReady() ? 1 : 0;
    return Math.max(0, receivers - self);
  }

  async subscribe(channel: string, listener: BusListener): Promise<void> {
    const full = redisChannel(this.options.channelPrefix, channel);
    this.listeners.set(full, listener);
    // While Redis is away the wish is recorded; resubscribe() makes it true on 'ready'.
    if (!this.subscriber.isReady()) return;
    try {
      await this.subscriber.redis.subscribe(full);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel },
        'subscribe failed; retried when Redis is ready',
      );
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const full = redisChannel(this.options.channelPrefix, channel);
    if (!this.listeners.delete(full) || !this.subscriber.isReady()) return;
    try {
      await this.subscriber.redis.unsubscribe(full);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel },
        'unsubscribe failed',
      );
    }
  }

  /** After the connections have drained (Nest's last shutdown phase), not before. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.publisher.close(), this.subscriber.close()]);
  }

  private receive(channel: string, raw: string): void {
    const listener = this.listeners.get(channel);
    if (!listener) return;
    const message = decodeBusMessage(raw);
    if (!message) {
      this.options.onMalformed?.(
        channel.slice(
          this.options.channelPrefix.length + CHANNEL_PREFIX_SEPARATOR.length,
        ),
      );
      return;
    }
    if (message.origin === this.options.instanceId) return;
    try {
      listener(message);
    } catch (err) {
      this.logger.error({ err, channel }, 'bus listener failed');
    }
  }

  private async resubscribe(): Promise<void> {
    const channels = [...this.listeners.keys()];
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      try {
        await this.subscriber.redis.subscribe(
          ...channels.slice(i, i + RESUBSCRIBE_BATCH),
        );
      } catch (err) {
        // The next 'ready' tries again; until then these channels miss remote messages.
        this.logger.warn(
          { err: (err as Error).message },
          'restoring subscriptions failed',
        );
        return;
      }
    }
    if (channels.length > 0)
      this.logger.log(
        { channels: channels.length },
        'Redis subscriptions restored',
      );
  }
}
