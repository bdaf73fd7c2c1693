import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** CPU time a process has used so far (user + system), in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS;
}

/**
 * Time a process's threads have spent on a CPU so far, in seconds, to the nanosecond: the sum of
 * the first field of /proc/<pid>/task/<tid>/schedstat over its threads. For what ticks are too
 * coarse for ({@link cpuSeconds} counts in 10 ms ticks: an idle process uses a few per second).
 * A thread that ends between two readings takes its time with it. Undefined where the kernel
 * has no schedstat.
 */
export function runSeconds(pid: number): number | undefined {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(
            ' ',
          )[0],
        );
      } catch (err) {
        // A thread that ended since the listing; anything else means no schedstat here.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      }
    }
  } catch {
    return undefined;
  }
  return ns / 1e9;
}

/** USER_HZ, the unit of /proc's CPU times (sysconf is not reachable from Node: ask getconf). */
export const CLOCK_TICKS = (() => {
  try {
    return (
      Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100
    );
  } catch {
    return 100; // what every mainstream Linux uses
  }
})();

/**
 * Jiffies of one core, from /proc/stat: busy and total, and of the busy time, what the hypervisor
 * took (steal), which no process is charged. (Interrupt time is not split out: the kernel
 * charges it to the process that was running as well.)
 */
export interface CoreTimes {
  busy: number;
  total: number;
  steal: number;
}

/** {@link CoreTimes} of one core now. */
export function coreTimes(core: number): CoreTimes {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return { busy: 0, total: 0, steal: 0 };
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = v[3] + v[4];
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, steal: v[7] };
}

/** Soft and hard limits on open files of this process (/proc/self/limits). */
export function openFileLimits(): { soft: number; hard: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const parse = (s: string | undefined) =>
    s === undefined || s === 'unlimited' ? Infinity : Number(s);
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}
