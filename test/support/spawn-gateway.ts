import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');

/** A JSON log line of the service. */
export type LogLine = Record<string, unknown> & {
  msg?: string;
  level?: number;
};

export interface SpawnedGateway {
  child: ChildProcess;
  port: number;
  /** Raw stdout and stderr so far. */
  output(): string;
  /** Parsed JSON lines of stdout so far. */
  lines(): LogLine[];
  /** Resolves with the first line matching, waiting for it if needed. */
  waitForLine(
    predicate: (line: LogLine) => boolean,
    timeoutMs?: number,
  ): Promise<LogLine>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** The variables a spawned gateway must not inherit from the test runner's environment. */
const CONTRACT_VARS = [
  'PORT',
  'HOST',
  'WS_PATH',
  'AUTH_TOKENS',
  'AUTH_DISABLED',
  'AUTH_JWT_SECRET',
  'AUTH_JWT_PUBLIC_KEY',
  'AUTH_JWKS_URL',
  'AUTH_JWT_ISSUER',
  'AUTH_JWT_AUDIENCE',
  'ALLOWED_ORIGINS',
  'TRUSTED_PROXIES',
  'MAX_CONNECTIONS',
  'WS_MAX_PAYLOAD',
  'WS_MAX_DEPTH',
  'WS_HEARTBEAT_MS',
  'RATE_LIMIT_PER_SEC',
  'RATE_LIMIT_BURST',
  'RATE_LIMIT_BYTES_PER_SEC',
  'RATE_LIMIT_BYTES_BURST',
  'RATE_LIMIT_FANOUT_BYTES_PER_SEC',
  'WS_CLOSE_GRACE_MS',
  'MAX_BUFFERED_BYTES',
  'HANDSHAKE_TIMEOUT_MS',
  'WS_PERMESSAGE_DEFLATE',
  'SHUTDOWN_DRAIN_MS',
  'REDIS_URL',
  'REDIS_CHANNEL_PREFIX',
  'MAX_ROOMS_PER_CONNECTION',
  'HISTORY_SIZE',
  'HISTORY_TTL_MS',
  'HISTORY_RECOVERY_LIMIT',
  'HISTORY_MEMORY_BYTES',
  'PRESENCE_ENABLED',
  'PRESENCE_TICK_MS',
  'PRESENCE_TTL_MS',
  'PRESENCE_MAX_MEMBERS',
  'PRESENCE_INFO_CLAIMS',
  'CONSOLE_TOKENS',
  'CONSOLE_JWT_ROLE_CLAIM',
  'CONSOLE_SESSION_TTL_MS',
  'CONSOLE_STATS_INTERVAL_MS',
  'LOG_LEVEL',
  'LOG_FORMAT',
];

/**
 * Runs the built service (`node dist/main.js`, the Docker image's command) as a child process,
 * on a free port of the loopback interface, and reads its JSON log lines. `nodeArgs` go before
 * the script (`--trace-gc-nvp`, a V8 flag).
 */
export function runGateway(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Omit<SpawnedGateway, 'port'> {
  if (!existsSync(MAIN)) {
    throw new Error(
      `${MAIN} is missing: run "npm run build" first (npm test does it)`,
    );
  }
  const base = { ...process.env };
  for (const name of CONTRACT_VARS) delete base[name];
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: { ...base, PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const parsed: LogLine[] = [];
  const watchers: Array<{
    predicate: (l: LogLine) => boolean;
    resolve: (l: LogLine) => void;
  }> = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    partial += chunk.toString();
    const pieces = partial.split('\n');
    partial = pieces.pop() ?? '';
    for (const piece of pieces) {
      if (!piece.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(piece) as LogLine;
      } catch {
        line = { msg: piece, unparsed: true };
      }
      parsed.push(line);
      // Backwards, so that removing a satisfied watcher does not skip the next one.
      for (let i = watchers.length - 1; i >= 0; i--) {
        if (watchers[i].predicate(line)) watchers.splice(i, 1)[0].resolve(line);
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | string>((done) => {
    child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown'));
  });
  const waitForLine = (
    predicate: (l: LogLine) => boolean,
    timeoutMs = 10_000,
  ) => {
    const found = parsed.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolveLine, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; output so far:\n${out}`,
            ),
          ),
        timeoutMs,
      );
      watchers.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(
          new Error(`the gateway exited before the line came; output:\n${out}`),
        );
      });
    });
  };
  return {
    child,
    output: () => out,
    lines: () => parsed,
    waitForLine,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null)
        child.kill(signal);
      return exited;
    },
  };
}

/** Starts the built service and waits until it listens. */
export async function spawnGateway(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<SpawnedGateway> {
  const running = runGateway(env, nodeArgs);
  const listening = await running.waitForLine(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('gateway listening'),
  );
  return { ...running, port: listening.port as number };
}
