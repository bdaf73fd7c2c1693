import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sleep, until } from '../support/clock.js';
import { stopChild, track } from '../support/children.js';
import { ALL_CORES, pinProcess, pinnedCommand } from '../support/machine.js';
import {
  GATEWAY_MAIN,
  GC_HOOK,
  PLAIN_MAIN,
  ROOT,
  SCRATCH,
} from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { cpuSeconds, rssBytes } from '../support/procfs.js';

export type ServerKind = 'gateway' | 'plain';

/** The token every scenario connects with (both servers accept it, and only it). */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/**
 * A server under test: the built gateway (`node dist/main.js`) or the plain `ws` baseline, as a
 * child process pinned to the server core, its stdout and stderr in a file under bench/scratch/.
 */
export interface RunningServer {
  kind: ServerKind;
  label: string;
  pid: number;
  port: number;
  url: string;
  logFile: string;
  rss(): number;
  cpuSeconds(): number;
  /** A full garbage collection (see gc-hook.ts), then `waitMs` for it to finish. */
  collectGarbage(waitMs: number): Promise<void>;
  heapUsed(): Promise<number>;
  openConnections(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  label: string;
  pinCores?: string;
  /** Gateway only: fan out through this Redis with this channel prefix. */
  redis?: { url: string; prefix: string };
  /** Gateway only: settings over {@link GATEWAY_ENV} (a variant such as `LOG_LEVEL=warn`). */
  env?: Record<string, string>;
}

/** What the gateway runs with in every scenario (printed with the results). */
export const GATEWAY_ENV: Record<string, string> = {
  HOST: '127.0.0.1',
  AUTH_TOKENS: BENCH_TOKEN,
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  // The limiter stays on the hot path, but far above any rate the benchmark reaches.
  RATE_LIMIT_PER_SEC: '1000000',
  RATE_LIMIT_BURST: '1000000',
  RATE_LIMIT_BYTES_PER_SEC: '1000000000',
  RATE_LIMIT_BYTES_BURST: '1000000000',
  RATE_LIMIT_FANOUT_BYTES_PER_SEC: '100000000000',
  MAX_CONNECTIONS: '100000',
  SHUTDOWN_DRAIN_MS: '1000',
};

async function httpText(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.text();
}

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`${name} is not in /metrics`);
  return Number(match[1]);
}

const ENV_CONTRACT = [
  'PORT',
  'HOST',
  'WS_PATH',
  'AUTH_TOKENS',
  'AUTH_DISABLED',
  'REDIS_URL',
  'REDIS_CHANNEL_PREFIX',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'RATE_LIMIT_PER_SEC',
  'RATE_LIMIT_BURST',
  'RATE_LIMIT_BYTES_PER_SEC',
  'RATE_LIMIT_BYTES_BURST',
  'RATE_LIMIT_FANOUT_BYTES_PER_SEC',
  'WS_CLOSE_GRACE_MS',
  'MAX_CONNECTIONS',
  'MAX_BUFFERED_BYTES',
  'WS_HEARTBEAT_MS',
  'ALLOWED_ORIGINS',
  'WS_MAX_PAYLOAD',
  'WS_MAX_DEPTH',
  'SHUTDOWN_DRAIN_MS',
  // The console is on only where a scenario turns it on (console.ts), whatever this shell has.
  'CONSOLE_TOKENS',
  'CONSOLE_JWT_ROLE_CLAIM',
  'CONSOLE_SESSION_TTL_MS',
  'CONSOLE_STATS_INTERVAL_MS',
  'NODE_OPTIONS',
];

export async function startServer(
  kind: ServerKind,
  options: StartOptions,
): Promise<RunningServer> {
  const main = kind === 'gateway' ? GATEWAY_MAIN : PLAIN_MAIN;
  if (!existsSync(main))
    throw new Error(
      `${main} is missing: build first (npm run bench builds it)`,
    );
  const port = await freePort();
  const base = { ...process.env };
  for (const name of ENV_CONTRACT) delete base[name];
  const env: Record<string, string | undefined> =
    kind === 'gateway'
      ? {
          ...base,
          ...GATEWAY_ENV,
          ...options.env,
          PORT: String(port),
          ...(options.redis
            ? {
                REDIS_URL: options.redis.url,
                REDIS_CHANNEL_PREFIX: options.redis.prefix,
              }
            : {}),
        }
      : {
          ...base,
          PORT: String(port),
          HOST: '127.0.0.1',
          AUTH_TOKENS: BENCH_TOKEN,
        };
  const logFile = resolve(SCRATCH, `${options.label}.log`);
  const log = openSync(logFile, 'w');
  let child: ChildProcess;
  try {
    // Started on every core (a Nest boot is seconds of CPU; this process, whose affinity children
    // inherit, is on the load core), pinned once it answers.
    const [command, args] = pinnedCommand(
      options.pinCores === undefined ? undefined : ALL_CORES,
      process.execPath,
      ['--expose-gc', '--import', pathToFileURL(GC_HOOK).href, main],
    );
    child = track(
      spawn(command, args, {
        cwd: ROOT,
        env,
        stdio: ['ignore', log, log],
      }),
    );
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${kind} did not start`);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  try {
    // /readyz includes Redis when it is configured; the plain server has /healthz only.
    const probe = kind === 'gateway' ? '/readyz' : '/healthz';
    await until(
      `${options.label} to answer ${probe}`,
      async () => {
        if (exited())
          throw new Error(`${options.label} exited at start; see ${logFile}`);
        try {
          await httpText(port, probe);
          return true;
        } catch {
          return undefined; // not listening yet
        }
      },
      30_000,
      100,
    );
    if (options.pinCores !== undefined) pinProcess(pid, options.pinCores);
  } catch (err) {
    await stopChild(child);
    throw err;
  }

  return {
    kind,
    label: options.label,
    pid,
    port,
    url: `ws://127.0.0.1:${port}/`,
    logFile,
    rss: () => rssBytes(pid),
    cpuSeconds: () => cpuSeconds(pid),
    collectGarbage: async (waitMs) => {
      child.kill('SIGUSR2');
      await sleep(waitMs);
    },
    heapUsed: async () =>
      kind === 'gateway'
        ? metric(
            await httpText(port, '/metrics'),
            'nodejs_heap_size_used_bytes',
          )
        : (JSON.parse(await httpText(port, '/memory')) as { heapUsed: number })
            .heapUsed,
    openConnections: async () =>
      kind === 'gateway'
        ? metric(await httpText(port, '/metrics'), 'gateway_connections_open')
        : (
            JSON.parse(await httpText(port, '/memory')) as {
              connections: number;
            }
          ).connections,
    stop: () => stopChild(child, 5000),
  };
}
