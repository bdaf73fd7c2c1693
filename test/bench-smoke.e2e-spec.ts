import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const TSC = resolve(ROOT, 'node_modules/typescript/bin/tsc');
const RUN = resolve(ROOT, 'dist-bench/bench/run.js');

/** How long the smoke run may take before it is stopped and the test fails. */
const SMOKE_LIMIT_MS = 170_000;

interface Finished {
  code: number | string;
  output: string;
}

/** Runs a process to its end, or stops it (SIGTERM, then SIGKILL) after `limitMs`. */
function run(args: string[], limitMs: number): Promise<Finished> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const stop = setTimeout(() => {
      output += `\n[test] still running after ${limitMs} ms: stopped\n`;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(stop);
      done({ code: code ?? signal ?? 'unknown', output });
    });
  });
}

// The smoke profile of `npm run bench`: every scenario with tiny counts, against the gateway that
// `npm test` has just built (not rebuilt here: other suites run against dist/ at the same time).
describe('the benchmark, smoke profile (e2e)', () => {
  it('compiles, runs every scenario against both servers and prints every number', async () => {
    expect(
      existsSync(resolve(ROOT, 'dist/main.js')),
      'dist/main.js is missing: npm test builds it',
    ).toBe(true);

    const build = await run([TSC, '-p', 'tsconfig.bench.json'], 30_000);
    expect(build.code, build.output).toBe(0);

    const smoke = await run([RUN, '--smoke'], SMOKE_LIMIT_MS);
    expect(smoke.code, smoke.output).toBe(0);
    for (const row of [
      'round-trips/s',
      // The server's own limit (1 / CPU per operation), and the batched echo's worst round.
      'round-trips/s per core of server CPU',
      'handshakes/s per core of server CPU',
      'p99 latency, worst round',
      'deliveries/s',
      'handshakes/s',
      'RSS per idle connection',
      'p99, other instance',
      // Cross-instance: the same load on one instance, and the scaling it gives.
      '1 gateway (the same, through Redis)',
      'CPU per delivery, 2 instances / 1',
      // Rooms with history on and off, recovery, history memory.
      'HISTORY_SIZE=0',
      'p99 publish → ack',
      'p99 open → caught up',
      'heap per kept message',
      // Presence: join/leave on and off, presence requests.
      'join/leave cycles/s',
      'PRESENCE_ENABLED=false',
      'presence requests/s',
      // The console: what its stats publishing adds at idle.
      'added by the console',
    ]) {
      expect(smoke.output).toContain(row);
    }
    // Echo runs two alternating rounds per server in the smoke profile: the medians' path.
    expect(smoke.output).toContain('median of 2 alternating rounds');
    expect(smoke.output).not.toContain('FAILED');
  }, 200_000);
});
