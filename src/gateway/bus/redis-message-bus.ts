import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { decodeBusMessage, encodeBusMessage } from './bus-codec.js';
import {
  CHANNEL_PREFIX_SEPARATOR,
  ChannelPrefixError,
  isChannelPrefix,
  redisChannel,
} from './channels.js';
import type { BusListener, BusMessage, MessageBus } from './message-bus.js';

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

/**
 * How long a Redis command may take before the publish is reported as failed. A paused or
 * overloaded Redis must not leave acknowledgements hanging.
 */
const COMMAND_TIMEOUT_MS = 2_000;
/** Reconnect backoff: 100 ms more per attempt, at most 2 s between attempts. */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2_000);
/** SUBSCRIBE arguments per command when restoring many channels after a reconnect. */
const RESUBSCRIBE_BATCH = 1_000;

/** host:port of a Redis URL, for logs: the URL itself may carry a password. */
function describe(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis';
  }
}

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
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  /** full channel name -> listener: what this instance wants to hear, whatever Redis's state */
  private readonly listeners = new Map<string, BusListener>();
  private readonly where: string;
  /** Throws {@link ChannelPrefixError} for a prefix with `|`, before connecting. */
  constructor(private readonly options: RedisBusOptions) {
    if (!isChannelPrefix(options.channelPrefix))
      throw new ChannelPrefixError(options.channelPrefix);
    this.where = describe(options.url);
    const common: RedisOptions = {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy,
    };
    this.publisher = new Redis(options.url, {
      ...common,
      connectionName: 'gateway-publisher',
    });
    this.subscriber = new Redis(options.url, {
      ...common,
      connectionName: 'gateway-subscriber',
      autoResubscribe: false,
    });
    this.watch(this.publisher, 'publisher');
    this.watch(this.subscriber, 'subscriber');
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('message', (channel: string, raw: string) =>
      this.receive(channel, raw),
    );
  }

  isReady(): boolean {
    return (
      this.publisher.status === 'ready' && this.subscriber.status === 'ready'
    );
  }

  /** Channels this instance listens on. */
  get subscriptionCount(): number {
    return this.listeners.size;
  }

  async publish(channel: string, message: BusMessage): Promise<number> {
    const full = redisChannel(this.options.channelPrefix, channel);
    let receivers: number;
    try {
      receivers = await this.publisher.publish(full, encodeBusMessage(message));
    } catch (err) {
      throw new Error(
        `Redis at ${this.where} is unavailable (${(err as Error).message})`,
      );
    }
    // Our own subscriber is one of the receivers when this instance listens on the channel.
    const self =
      this.listeners.has(full) && this.subscriber.status === 'ready' ? 1 : 0;
    return Math.max(0, receivers - self);
  }

  async subscribe(channel: string, listener: BusListener): Promise<void> {
    const full = redisChannel(this.options.channelPrefix, channel);
    this.listeners.set(full, listener);
    // While Redis is away the wish is recorded; resubscribe() makes it true on 'ready'.
    if (this.subscriber.status !== 'ready') return;
    try {
      await this.subscriber.subscribe(full);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel },
        'subscribe failed; retried when Redis is ready',
      );
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const full = redisChannel(this.options.channelPrefix, channel);
    if (!this.listeners.delete(full) || this.subscriber.status !== 'ready')
      return;
    try {
      await this.subscriber.unsubscribe(full);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, channel },
        'unsubscribe failed',
      );
    }
  }

  /** After the connections have drained (Nest's last shutdown phase), not before. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.stop(this.publisher), this.stop(this.subscriber)]);
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
        await this.subscriber.subscribe(
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

  /** Logs state changes, not every failed reconnect attempt: an outage is two lines, not two a second. */
  private watch(client: Redis, role: string): void {
    let up = false;
    let warned = false;
    client.on('ready', () => {
      up = true;
      warned = false;
      this.logger.log({ redis: this.where, role }, 'Redis connected');
    });
    client.on('close', () => {
      if (!up) return;
      up = false;
      this.logger.warn(
        { redis: this.where, role },
        'Redis connection lost: local delivery continues, fan-out paused',
      );
    });
    client.on('error', (err: Error) => {
      if (up || warned) return;
      warned = true;
      this.logger.warn(
        { redis: this.where, role, err: err.message },
        'Redis unreachable; retrying',
      );
    });
  }

  private async stop(client: Redis): Promise<void> {
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // Fall through: a connection that cannot say goodbye is simply dropped.
      }
    }
    client.disconnect();
  }
}
