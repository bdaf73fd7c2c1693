import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** The Redis that CI makes sure is running (test/prepare.sh). */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** A channel prefix of its own, so suites running side by side on one Redis never cross-talk. */
export function uniqueChannelPrefix(): string {
  return `test-${randomBytes(4).toString('hex')}:`;
}

/** A free TCP port on the loopback interface (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function answers(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** How an {@link OwnRedis} keeps its data. */
export interface OwnRedisOptions {
  /**
   * Write every command to an append-only file (fsync'd each time) in a directory of its own,
   * so that a server killed and started again comes back with its data, as a Redis with
   * `appendonly yes` does after a crash. Default: nothing is kept, a restart is an empty Redis.
   */
  persistent?: boolean;
}

/**
 * A Redis server of the test's own, on its own port, that the test can stop and start again:
 * the real thing going away, not a mock of it.
 */
export class OwnRedis {
  private process?: ChildProcess;
  private readonly dir?: string;

  private constructor(
    readonly port: number,
    options: OwnRedisOptions,
  ) {
    if (options.persistent)
      this.dir = mkdtempSync(join(tmpdir(), 'own-redis-'));
  }

  static async start(
    port?: number,
    options: OwnRedisOptions = {},
  ): Promise<OwnRedis> {
    const redis = new OwnRedis(port ?? (await freePort()), options);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.process) return;
    this.process = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...(this.dir
          ? [
              '--appendonly',
              'yes',
              '--appendfsync',
              'always',
              '--dir',
              this.dir,
            ]
          : ['--appendonly', 'no']),
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 5_000;
    while (!(await answers(this.port))) {
      if (Date.now() > deadline)
        throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server (SIGKILL: no goodbye to its clients) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the server for good and deletes its data directory, if it has one. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
