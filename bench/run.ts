/**
 * `npm run bench` (and `npm run bench:smoke`, with `--smoke`): runs every scenario against the
 * built gateway and the plain `ws` baseline, alternating them, prints the table, and writes the
 * results (bench/results/ for a full run, bench/scratch/smoke/ for a smoke run). Exits non-zero
 * when a scenario produced no number.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FULL, SMOKE } from './profiles.js';
import { markdown, textTable, type Report } from './report.js';
import { clusterScenario } from './scenarios/cluster.js';
import type { CaseResult, Context } from './scenarios/common.js';
import { consoleScenario } from './scenarios/console.js';
import { echoScenario } from './scenarios/echo.js';
import { fanoutScenario } from './scenarios/fanout.js';
import { handshakeScenario } from './scenarios/handshake.js';
import { historyMemoryScenario } from './scenarios/history-memory.js';
import { memoryScenario } from './scenarios/memory.js';
import { presenceScenario } from './scenarios/presence.js';
import { reconnectScenario } from './scenarios/reconnect.js';
import { roomsScenario } from './scenarios/rooms.js';
import { startExtra, type ExtraServer } from './servers/extras.js';
import {
  GATEWAY_ENV,
  startServer,
  type RunningServer,
} from './servers/launch.js';
import { killAllNow, stopAll } from './support/children.js';
import { describeMachine } from './support/machine.js';
import { writeOutPageCache } from './support/page-cache.js';
import { RESULTS, ROOT, SCRATCH } from './support/paths.js';

const args = process.argv.slice(2);
const profile = args.includes('--smoke') ? SMOKE : FULL;
/** `--only=echo,memory`: a subset, for working on one scenario. */
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
/**
 * The whole run, builds excluded, must end within this; past it everything is stopped. A full
 * run takes about 11 minutes on 2 cores, 2.5 of them the console scenario (2 × 3 idle windows of
 * 20 s), after writing out the page cache `npm ci` left (0.2 to 0.6 s here). A smoke run takes
 * 88 to 101 s beside the rest of the test suite.
 */
const DEADLINE_MS = profile.name === 'smoke' ? 150_000 : 840_000;

const started = Date.now();
const log = (line: string) =>
  process.stderr.write(
    `[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`,
  );

// Whatever happens, no server or load worker outlives this process.
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every process`);
    void stopAll().finally(() => process.exit(130));
  });
}
const deadline = setTimeout(() => {
  log(`the run took more than ${DEADLINE_MS / 1000} s: stopping`);
  void stopAll().finally(() => process.exit(2));
}, DEADLINE_MS);
deadline.unref();

type Scenario = (ctx: Context) => Promise<CaseResult[]>;
const MEMORY: [string, Scenario] = ['memory', memoryScenario];
const HISTORY_MEMORY: [string, Scenario] = [
  'history-memory',
  historyMemoryScenario,
];
/**
 * On the shared pair of servers (memory and history memory too in a smoke run: it has no time
 * for fresh ones).
 */
const PAIRED: Array<[string, Scenario]> = [
  ['echo', echoScenario],
  ['fanout', fanoutScenario],
  ['handshake', handshakeScenario],
  // The shared gateway keeps history (its default); these start the other servers they need.
  ['rooms', roomsScenario],
  ['reconnect', reconnectScenario],
  ['presence', presenceScenario],
  ...(profile.memory.freshServers ? [] : [MEMORY]),
  ...(profile.historyMemory.freshServer ? [] : [HISTORY_MEMORY]),
];
/** What paired scenarios need besides the pair: started around each (see withExtras). */
const EXTRAS: Record<string, ExtraServer[]> = {
  rooms: ['historyOff'],
  reconnect: ['redisHistory'],
  presence: ['presenceOn', 'presenceOff'],
};
/** With servers of their own. */
const ALONE: Array<[string, Scenario]> = [
  ...(profile.memory.freshServers ? [MEMORY] : []),
  ...(profile.historyMemory.freshServer ? [HISTORY_MEMORY] : []),
  ['cluster', clusterScenario],
  ['console', consoleScenario],
];
const wanted = ([name]: [string, Scenario]) => !only || only.includes(name);

function gitShort(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'nogit'; // a tarball, not a clone
  }
}

/** Every metric of every case has a number, for each server the case has. */
function missingNumbers(cases: CaseResult[]): string[] {
  const out: string[] = [];
  for (const c of cases) {
    for (const spec of c.metrics) {
      for (const kind of ['gateway', 'plain'] as const) {
        const m = c[kind];
        if (kind === 'plain' && !m && c.noPlain) continue;
        const v = m?.values[spec.key];
        if (v === undefined || !Number.isFinite(v))
          out.push(`${c.scenario} / ${c.name} / ${spec.label} / ${kind}`);
      }
    }
  }
  return out;
}

/**
 * Runs a paired scenario with the extra servers it needs (EXTRAS), started just before it and
 * stopped right after: an idle gateway is not idle for the core it shares. About a minute after
 * its boot V8's memory reducer runs three full collections in a row in it, some 110 ms of CPU
 * within a second and a half on the server core, and a window of the pair's that it lands in
 * measures that, not the server (with the four extras started with the pair, the worst p99 round
 * of echo at 100 × 32 was 1.39 and 1.42 of plain's in two runs of three). A missing extra fails
 * its scenario alone.
 */
async function withExtras(
  ctx: Context,
  scenario: [string, Scenario],
  attempt: (s: [string, Scenario]) => Promise<void>,
): Promise<void> {
  const names = EXTRAS[scenario[0]] ?? [];
  if (names.length) log(`starting ${names.join(', ')}`);
  const extras = await Promise.all(
    names.map((name) =>
      startExtra(name, ctx.profile, ctx.machine.pinning.server),
    ),
  );
  ctx.extras = Object.fromEntries(names.map((name, i) => [name, extras[i]]));
  try {
    await attempt(scenario);
  } finally {
    ctx.extras = undefined;
    await Promise.all(
      extras
        .filter((s): s is RunningServer => !(s instanceof Error))
        .map((s) => s.stop()),
    );
  }
}

async function main(): Promise<number> {
  const machine = describeMachine();
  mkdirSync(SCRATCH, { recursive: true });
  for (const f of readdirSync(SCRATCH))
    if (f.endsWith('.log')) rmSync(resolve(SCRATCH, f));
  log(
    `${profile.name} run on ${machine.nproc} core(s), ${machine.cpuModel}, Node ${machine.node}`,
  );
  log(machine.pinning.note);
  if (profile.name === 'full') {
    const flushed = writeOutPageCache();
    machine.pageCache = flushed;
    log(
      flushed
        ? `page cache written out: ${Math.round(flushed.unwrittenKiB / 1024)} MB in ${(flushed.ms / 1000).toFixed(1)} s`
        : 'page cache not written out: no `sync` here',
    );
  }

  const cases: CaseResult[] = [];
  const failures: Report['failures'] = [];
  const ctx: Context = { profile, machine, log };
  const attempt = async ([name, scenario]: [string, Scenario]) => {
    try {
      cases.push(...(await scenario(ctx)));
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`${name} failed: ${error}`);
      failures.push({ scenario: name, error });
    }
  };

  const paired = PAIRED.filter(wanted);
  if (paired.length) {
    const servers: RunningServer[] = [];
    try {
      log('starting the gateway and the plain ws server');
      const [gateway, plain] = await Promise.all([
        startServer('gateway', {
          label: 'gateway',
          pinCores: machine.pinning.server,
        }),
        startServer('plain', {
          label: 'plain',
          pinCores: machine.pinning.server,
        }),
      ]);
      servers.push(gateway, plain);
      ctx.pair = { gateway, plain };
      for (const s of paired) await withExtras(ctx, s, attempt);
    } catch (err) {
      for (const [name] of paired)
        failures.push({
          scenario: name,
          error: `servers did not start: ${(err as Error).message}`,
        });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await stopAll(); // a server that started while the other failed
      ctx.pair = undefined;
    }
  }
  for (const s of ALONE.filter(wanted)) await attempt(s);

  const report: Report = {
    machine,
    profile: profile.name,
    gatewayEnv: GATEWAY_ENV,
    durationMs: Date.now() - started,
    cases,
    failures,
  };
  process.stdout.write(`\n${textTable(report)}\n`);

  const dir = profile.name === 'smoke' ? resolve(SCRATCH, 'smoke') : RESULTS;
  mkdirSync(dir, { recursive: true });
  const json = resolve(dir, `${machine.date.slice(0, 10)}-${gitShort()}.json`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(resolve(dir, 'latest.md'), markdown(report));
  log(`results: ${json} and ${resolve(dir, 'latest.md')}`);

  const missing = missingNumbers(cases);
  for (const m of missing) log(`no number: ${m}`);
  if (failures.length || missing.length) {
    log(
      `${failures.length} scenario(s) failed, ${missing.length} number(s) missing`,
    );
    return 1;
  }
  return 0;
}

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (err: unknown) => {
    log(
      `the benchmark failed: ${err instanceof Error ? err.stack : String(err)}`,
    );
    await stopAll();
    process.exit(1);
  },
);
