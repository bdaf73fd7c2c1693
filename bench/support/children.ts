import type { ChildProcess } from 'node:child_process';
import { sleep } from './clock.js';

/**
 * Every process the benchmark starts, so that each one is stopped whatever happens: scenarios
 * stop theirs in `finally` blocks, and the orchestrator's exit handlers stop any left over.
 */
const running = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

const alive = (child: ChildProcess) =>
  child.exitCode === null && child.signalCode === null;

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(
  child: ChildProcess,
  graceMs = 3000,
): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => resolve()),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (alive(child)) child.kill('SIGKILL');
  }, graceMs);
  await Promise.race([exited, sleep(graceMs + 2000)]);
  clearTimeout(timer);
}

/** Last resort, synchronous (for process 'exit'): SIGKILL whatever is still running. */
export function killAllNow(): void {
  for (const child of running) if (alive(child)) child.kill('SIGKILL');
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child, 1500)));
}
