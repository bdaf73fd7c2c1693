import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { PageCacheFlush } from './page-cache.js';
import { openFileLimits } from './procfs.js';

/** Where the processes of a run are allowed to run: `taskset -c <cores>`, or anywhere. */
export interface Pinning {
  /** Core list for the server(s), e.g. "0"; undefined when not pinned. */
  server?: string;
  /** Core list for the load workers and the orchestrator, e.g. "1". */
  load?: string;
  /** The cores whose busy time is sampled from /proc/stat (to see other processes on them). */
  serverCore?: number;
  loadCore?: number;
  note: string;
}

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  node: string;
  loadavgAtStart: number[];
  openFilesHardLimit: number;
  pinning: Pinning;
  /** The page cache written out before the run (a full run only: see page-cache.ts). */
  pageCache?: PageCacheFlush;
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return cpus().length; // nproc missing: the cores Node sees
  }
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(
      readFileSync('/proc/cpuinfo', 'utf8'),
    );
    return match?.[1].trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

/**
 * Server on core 0, load (and this process) on core 1, when `taskset -p` works here and there
 * are at least two cores; otherwise nothing is pinned and the note says why.
 */
function choosePinning(cores: number): Pinning {
  if (cores < 2)
    return {
      note: `not pinned: ${cores} core(s); server and load share the CPU`,
    };
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    // This process samples and coordinates: keep it off the server's core.
    execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], {
      stdio: 'ignore',
    });
  } catch (err) {
    return {
      note: `not pinned: taskset -p failed here (${(err as Error).message.split('\n')[0]})`,
    };
  }
  return {
    server: '0',
    load: '1',
    serverCore: 0,
    loadCore: 1,
    note: `taskset: server(s) on core 0, load workers and orchestrator on core 1${
      cores > 2 ? ` (cores 2-${cores - 1} unused)` : ''
    }`,
  };
}

export function describeMachine(): Machine {
  const cores = nproc();
  return {
    date: new Date().toISOString(),
    nproc: cores,
    cpuModel: cpuModel(),
    node: process.version,
    loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    openFilesHardLimit: openFileLimits().hard,
    pinning: choosePinning(cores),
  };
}

/** Every core of the machine, as a taskset list. */
export const ALL_CORES = `0-${cpus().length - 1}`;

/** Moves a running process, every thread of it (`-a`: V8's and libuv's too), to `cores`. */
export function pinProcess(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], {
    stdio: 'ignore',
  });
}

/** The command to spawn, behind `taskset -c <cores>` when pinned. */
export function pinnedCommand(
  cores: string | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  return cores === undefined
    ? [command, args]
    : ['taskset', ['-c', cores, command, ...args]];
}
