/** Timers, injectable so that a unit test can drive time. */
export interface ClientClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The global `setTimeout` / `clearTimeout`, looked up at each call so fake timers still apply. */
export const defaultClock: ClientClock = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) =>
    globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** setTimeout's longest delay; a longer one would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay `setTimeout` honours: `ms`, capped at {@link MAX_TIMER_MS}. */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, ms);
}
