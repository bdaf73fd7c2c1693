import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createRequire } from 'node:module';

/**
 * ioredis, loaded by the first connection rather than with this module: a gateway that runs
 * without Redis (no `REDIS_URL`) never holds the client's code and objects, about 1 MB of heap
 * at rest that every major garbage collection would mark. It is CommonJS: this stays synchronous.
 */
const requireModule = createRequire(import.meta.url);
let RedisClient: typeof Redis | undefined;
function redisClient(): typeof Redis {
  return (RedisClient ??= (requireModule('ioredis') as typeof import('ioredis'))
    .Redis);
}

/**
 * How long a command may take before it is reported as failed: a paused or overloaded Redis
 * must not leave a request hanging.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/** Reconnect backoff, the bus's: 100 ms more per attempt, at most 2 s between attempts. */
export const redisRetryStrategy = (attempt: number) =>
  Math.min(attempt * 100, 2_000);

/** host:port of a Redis URL, for logs and errors: the URL itself may carry a password. */
export function redisLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}`;
  } catch {
    return 'redis';
  }
}

/** What a {@link RedisConnection} connects to and how it reports on itself. */
export interface RedisConnectionOptions {
  /** `redis://[:password@]host[:port][/db]` or `rediss://...` */
  url: string;
  /** The connection's name in Redis (`CLIENT LIST`): `gateway-history`, say. */
  name: string;
  /** The `role` its log lines carry: `history`, say. */
  role: string;
  /** What the warning about a lost connection adds after "Redis connection lost: ". */
  whenLost: string;
  /** Where it logs (the owner's context). */
  logger: Logger;
  /**
   * A connection that will subscribe: its owner restores the subscriptions itself on `ready`
   * (ioredis's own resubscribing is turned off).
   */
  subscriber?: boolean;
}

/**
 * One connection to Redis for the bus (its publisher and its subscriber) and the Redis-backed
 * stores (history, presence), with one policy:
 * nothing is queued or resent while Redis is away, so every call rejects at once (or after
 * {@link REDIS_COMMAND_TIMEOUT_MS} when Redis stops answering) and the caller answers
 * `UNAVAILABLE`; it reconnects by itself. A call that timed out or lost its connection may
 * still have been carried out.
 */
export class RedisConnection {
  readonly redis: Redis;
  /** host:port, never the URL. */
  readonly where: string;
  /** Set by close: QUIT is answered before the connection's status says it is closing. */
  private stopped = false;

  constructor(private readonly options: RedisConnectionOptions) {
    this.where = redisLocation(options.url);
    const Client = redisClient();
    this.redis = new Client(options.url, {
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      retryStrategy: redisRetryStrategy,
      connectionName: options.name,
      ...(options.subscriber ? { autoResubscribe: false } : {}),
    });
    this.watch();
  }

  /** Whether commands can be served right now (readiness). */
  isReady(): boolean {
    return !this.stopped && this.redis.status === 'ready';
  }

  /** Runs a command, turning any failure into one error that names Redis but not its URL. */
  async call<T>(command: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await command(this.redis);
    } catch (err) {
      throw new Error(
        `Redis at ${this.where} is unavailable (${(err as Error).message})`,
        { cause: err },
      );
    }
  }

  /** Says goodbye (QUIT) when it can, else drops the connection; no reconnecting after. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.redis.status === 'ready') {
      try {
        await this.redis.quit();
        return;
      } catch {
        // Fall through: a connection that cannot say goodbye is simply dropped.
      }
    }
    this.redis.disconnect();
  }

  /** Logs state changes, not every failed reconnect attempt: an outage is two lines, not two a second. */
  private watch(): void {
    const { logger, role, whenLost } = this.options;
    const redis = this.where;
    let up = false;
    let warned = false;
    this.redis.on('ready', () => {
      up = true;
      warned = false;
      logger.log({ redis, role }, 'Redis connected');
    });
    this.redis.on('close', () => {
      // Our own QUIT at shutdown is no outage.
      if (!up || this.stopped) return;
      up = false;
      logger.warn({ redis, role }, `Redis connection lost: ${whenLost}`);
    });
    this.redis.on('error', (err: Error) => {
      if (up || warned) return;
      warned = true;
      logger.warn(
        { redis, role, err: err.message },
        'Redis unreachable; retrying',
      );
    });
  }
}
