import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The built command-line client, as `npm run client` runs it. */
export const CLI = resolve(import.meta.dirname, '../../dist/client/cli.js');

const DEFAULT_WAIT_MS = 10_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running command-line client whose output a test awaits line by line. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line of the stream that matches, waiting for it if needed. */
  waitFor(
    stream: 'stdout' | 'stderr',
    match: string | RegExp,
    timeoutMs?: number,
  ): Promise<string>;
  /** Writes one line to its standard input. */
  writeLine(line: string): void;
  /** Ends its standard input (Ctrl-D). */
  end(): void;
  exited: Promise<CliResult>;
}

/** Starts `node dist/client/cli.js <args>` without NO_COLOR or GATEWAY_TOKEN from the runner. */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): CliProcess {
  if (!existsSync(CLI)) {
    throw new Error(
      `${CLI} is missing: run "npm run build" first (npm test does it)`,
    );
  }
  const base = { ...process.env };
  delete base.NO_COLOR;
  delete base.GATEWAY_TOKEN;
  delete base.FORCE_COLOR;
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  const watchers: Array<{
    stream: 'stdout' | 'stderr';
    test: (line: string) => boolean;
    resolve: (line: string) => void;
  }> = [];
  const lines = (stream: 'stdout' | 'stderr') => out[stream].split('\n');
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (chunk: Buffer) => {
      out[stream] += chunk.toString();
      for (let i = watchers.length - 1; i >= 0; i--) {
        const w = watchers[i];
        if (w.stream !== stream) continue;
        const found = lines(stream).find(w.test);
        if (found !== undefined) {
          watchers.splice(i, 1);
          w.resolve(found);
        }
      }
    });
  }
  const exited = new Promise<CliResult>((done) => {
    child.once('close', (code) => done({ code, ...out }));
  });
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor(stream, match, timeoutMs = DEFAULT_WAIT_MS) {
      const test = (line: string) =>
        typeof match === 'string' ? line.includes(match) : match.test(line);
      const found = lines(stream).find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no ${stream} line matching ${String(match)} within ${timeoutMs} ms; ` +
                `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
            ),
          );
        }, timeoutMs);
        watchers.push({
          stream,
          test,
          resolve: (line) => {
            clearTimeout(timer);
            resolveLine(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `the client exited before a ${stream} line matching ${String(match)}; ` +
                `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
            ),
          );
        });
      });
    },
    writeLine: (line) => child.stdin!.write(`${line}\n`),
    end: () => child.stdin!.end(),
    exited,
  };
}

/** Runs the client to its end, with `input` as its standard input; killed after the deadline. */
export async function runCli(
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const cli = startCli(args, options.env);
  const timer = setTimeout(
    () => cli.child.kill('SIGKILL'),
    options.timeoutMs ?? DEFAULT_WAIT_MS,
  );
  cli.child.stdin!.end(options.input ?? '');
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}
