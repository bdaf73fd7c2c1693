import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: this file runs from dist-bench/bench/support/. */
export const ROOT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../..',
);
export const GATEWAY_MAIN = resolve(ROOT, 'dist/main.js');
export const BENCH_DIST = resolve(ROOT, 'dist-bench/bench');
export const PLAIN_MAIN = resolve(BENCH_DIST, 'servers/plain-ws.js');
export const GC_HOOK = resolve(BENCH_DIST, 'servers/gc-hook.js');
export const WORKER_MAIN = resolve(BENCH_DIST, 'load/worker.js');
export const SCRATCH = resolve(ROOT, 'bench/scratch');
export const RESULTS = resolve(ROOT, 'bench/results');
