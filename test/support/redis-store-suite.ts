import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { redisChannel } from '../../src/gateway/bus/channels.js';
import { eventually } from './eventually.js';
import { SHARED_REDIS_URL, uniqueChannelPrefix } from './redis-server.js';

/** A store of the gateway's on Redis (history, presence), as far as the suite needs it. */
interface RedisBackedStore {
  isReady(): boolean;
  onApplicationShutdown(): Promise<void>;
}

/** What {@link redisStoreSuite} gives the tests of the enclosing `describe` (or file). */
export interface RedisStoreSuite {
  /** The current test's channel prefix, on the shared Redis: a new one for each test. */
  readonly prefix: string;
  /** A plain client on the shared Redis, to look at (or break) the stores' keys directly. */
  readonly admin: Redis;
  /** What was logged in the current test (kept off the console), `level [args…]` per call. */
  readonly logged: string[];
  /** Shuts `store` down after the test; awaits its connection first unless `wait` is false. */
  opened<S extends RedisBackedStore>(store: S, wait?: boolean): Promise<S>;
  /** A plain subscriber on a bus `channel` under the test's prefix, recording what it receives. */
  subscriber(channel: string, url?: string): Promise<string[]>;
  /** Deletes every key under `of` (the test's prefix by default) on the shared Redis. */
  deleteKeys(of?: string): Promise<void>;
}

/**
 * For a suite of a Redis-backed store against the real, shared Redis: each test under a channel
 * prefix of its own, whose keys are deleted after it, with the stores and subscribers it opened
 * closed, and `Logger` `log`/`warn`/`error` calls recorded instead of printed.
 */
export function redisStoreSuite(): RedisStoreSuite {
  let prefix = '';
  let admin: Redis;
  let logged: string[] = [];
  const toClose: Array<() => Promise<void>> = [];

  const deleteKeys = async (of = prefix): Promise<void> => {
    const keys = await admin.keys(`${of}|*`);
    if (keys.length > 0) await admin.del(...keys);
  };

  beforeAll(() => {
    admin = new Redis(SHARED_REDIS_URL);
  });

  afterAll(() => {
    admin.disconnect();
  });

  beforeEach(() => {
    prefix = uniqueChannelPrefix();
    logged = [];
    for (const level of ['log', 'warn', 'error'] as const)
      vi.spyOn(Logger.prototype, level).mockImplementation(
        (...args: unknown[]) => {
          logged.push(`${level} ${JSON.stringify(args)}`);
        },
      );
  });

  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((close) => close()));
    await deleteKeys();
    vi.restoreAllMocks();
  });

  return {
    get prefix() {
      return prefix;
    },
    get admin() {
      return admin;
    },
    get logged() {
      return logged;
    },
    async opened(store, wait = true) {
      toClose.push(() => store.onApplicationShutdown());
      if (wait) await eventually(() => store.isReady(), 'the store to connect');
      return store;
    },
    async subscriber(channel, url = SHARED_REDIS_URL) {
      const client = new Redis(url);
      toClose.push(async () => client.disconnect());
      const received: string[] = [];
      client.on('message', (_channel: string, raw: string) =>
        received.push(raw),
      );
      await client.subscribe(redisChannel(prefix, channel));
      return received;
    },
    deleteKeys,
  };
}
