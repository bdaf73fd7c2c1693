/**
 * Preloaded into both servers (`node --expose-gc --import <this>`) so the benchmark can ask for a
 * full garbage collection before it reads memory: SIGUSR2 runs `gc()` twice (the second pass
 * frees what the first one's finalizers released). It adds nothing to any hot path.
 */
const gc = (globalThis as { gc?: () => void }).gc;
process.on('SIGUSR2', () => {
  gc?.();
  gc?.();
});
