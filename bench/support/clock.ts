/**
 * Microseconds on CLOCK_MONOTONIC (process.hrtime), the one clock every process on the machine
 * shares: a timestamp taken in the publisher's process can be subtracted from one taken in a
 * receiver's process, and window boundaries chosen by the orchestrator mean the same instant in
 * every load worker.
 */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

export const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves at the given instant of {@link nowUs} (at once if it has passed). */
export const sleepUntil = (us: number) =>
  sleep(Math.max(0, (us - nowUs()) / 1e3));

/**
 * Polls `probe` until it returns a value other than undefined, at most `timeoutMs`; throws with
 * `what` in the message when time runs out. Every wait of the harness is bounded this way.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
