import { nowUs, sleepUntil } from '../support/clock.js';
import { coreTimes, type CoreTimes } from '../support/procfs.js';
import type { Machine, Pinning } from '../support/machine.js';
import type { Profile } from '../profiles.js';
import type { ExtraServer } from '../servers/extras.js';
import type { RunningServer, ServerKind } from '../servers/launch.js';
import type { CpuSample } from '../load/protocol.js';

/** One metric of a case: how it is named, its unit, which way is better, its target if any. */
export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Issue 6's target on gateway / plain: `>=` for throughput, `<=` for latency and memory. */
  target?: { op: '>=' | '<='; ratio: number };
  /**
   * A target on the gateway's value itself, where there is no plain counterpart to divide by
   * (the console's idle cost: `<` 1 % of a core).
   */
  limit?: { op: '<' | '>'; value: number };
  /** No gateway/plain ratio: the values are small differences, not rates (heap after close). */
  noRatio?: boolean;
  /** Printed with this many decimals. */
  decimals?: number;
}

/**
 * Server CPU time per operation (µs): the cost of one round-trip, delivery or handshake, which
 * stays comparable when the load side, not the server, limits the rate.
 */
export const CPU_PER_OP = (op: string): MetricSpec => ({
  key: 'cpuPerOp',
  label: `server CPU per ${op}`,
  unit: 'µs',
  better: 'lower',
  decimals: 1,
});

/**
 * Operations per second that one core of server CPU buys (1 / CPU per operation): the server's
 * own limit, which a load generator near the end of its core cannot show in the rate itself.
 * Its ratio is plain's CPU per operation over the gateway's.
 */
export const CAPACITY = (
  op: string,
  target?: MetricSpec['target'],
): MetricSpec => ({
  key: 'capacity',
  label: `${op}/s per core of server CPU`,
  unit: '/s',
  better: 'higher',
  target,
});

/** {@link CAPACITY}'s value from a measurement's CPU per operation (µs). */
export const capacityOf = (cpuPerOpUs: number): number => 1e6 / cpuPerOpUs;

/** One server's run of one case. */
export interface Measurement {
  values: Record<string, number>;
  /** Fraction of one core the server(s) used in the window. */
  serverCpu?: number;
  /** Fraction of one core the load workers used in the window (summed over workers). */
  loadCpu?: number;
  /** Busy fraction of the server's and the load's cores as a whole (/proc/stat), when pinned. */
  serverCoreBusy?: number;
  loadCoreBusy?: number;
  /** Of the server core's busy time, the fraction the hypervisor took (see CoreTimes). */
  serverCoreSteal?: number;
  notes: string[];
}

export interface CaseResult {
  scenario: string;
  name: string;
  metrics: MetricSpec[];
  gateway?: Measurement;
  /**
   * Absent where there is no plain `ws` counterpart (cross-instance fan-out, recovery, history
   * memory): such a case sets `noPlain`.
   */
  plain?: Measurement;
  /** The case has no plain `ws` counterpart: its plain column is `n/a`, not missing. */
  noPlain?: boolean;
  notes: string[];
}

/** What every scenario receives. */
export interface Context {
  profile: Profile;
  machine: Machine;
  /** The gateway and the plain server, started once and shared by the scenarios that can. */
  pair?: Record<ServerKind, RunningServer>;
  /**
   * Other servers the running paired scenario asked for (servers/extras.ts), started just before
   * it and stopped after it: each the server, or why it did not start.
   */
  extras?: Partial<Record<ExtraServer, RunningServer | Error>>;
  log: (line: string) => void;
}

/** An extra server started with the pair; throws why it is not there. */
export function extraServer(ctx: Context, name: ExtraServer): RunningServer {
  const server = ctx.extras?.[name];
  if (server === undefined)
    throw new Error(`the ${name} server was not started with the pair`);
  if (server instanceof Error)
    throw new Error(`the ${name} server did not start: ${server.message}`);
  return server;
}

/** Both servers, in the order this case runs them: alternate which goes first, case by case. */
export function order(caseIndex: number): ServerKind[] {
  return caseIndex % 2 === 0 ? ['gateway', 'plain'] : ['plain', 'gateway'];
}

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Each value and CPU figure the median over the rounds; each distinct note once. */
export function medianOf(rounds: Measurement[]): Measurement {
  const pick = (get: (m: Measurement) => number | undefined) => {
    const xs = rounds.map(get).filter((x): x is number => x !== undefined);
    return xs.length > 0 ? median(xs) : undefined;
  };
  const values: Record<string, number> = {};
  for (const key of Object.keys(rounds[0].values))
    values[key] = median(rounds.map((m) => m.values[key]));
  return {
    values,
    serverCpu: pick((m) => m.serverCpu),
    loadCpu: pick((m) => m.loadCpu),
    serverCoreBusy: pick((m) => m.serverCoreBusy),
    loadCoreBusy: pick((m) => m.loadCoreBusy),
    notes: [...new Set(rounds.flatMap((m) => m.notes))],
  };
}

/**
 * `count` rounds of measurements, round r running the servers (or variants) in the order
 * `orderOf(r)` gives; every one's measurements in round order. `nameOf` names them in the
 * progress lines.
 */
export async function roundsOf<K extends string>(
  ctx: Context,
  label: string,
  count: number,
  orderOf: (round: number) => readonly K[],
  measure: (kind: K, round: number) => Promise<Measurement>,
  nameOf: (kind: K) => string = String,
): Promise<Record<K, Measurement[]>> {
  const runs = Object.fromEntries(
    orderOf(0).map((kind) => [kind, [] as Measurement[]]),
  ) as Record<K, Measurement[]>;
  for (let round = 0; round < count; round++) {
    for (const kind of orderOf(round)) {
      ctx.log(
        `${label}: ${nameOf(kind)}` +
          (count > 1 ? `, round ${round + 1} of ${count}` : ''),
      );
      runs[kind].push(await measure(kind, round));
    }
  }
  return runs;
}

/**
 * Measures both servers `rounds` times, alternating which goes first, and fills the case with
 * each server's medians; with more than one round, a note lists the gateway/plain ratio of
 * `key` round by round. On a shared VM one window's rate can swing by a third from the next: a
 * median of alternating windows is what a single pair of windows cannot be, repeatable.
 */
export async function alternatingRounds(
  ctx: Context,
  result: CaseResult,
  rounds: number,
  key: string,
  measureOne: (kind: ServerKind, round: number) => Promise<Measurement>,
): Promise<Record<ServerKind, Measurement[]>> {
  const runs = await roundsOf(
    ctx,
    `${result.scenario} ${result.name}`,
    rounds,
    order,
    measureOne,
  );
  result.gateway = medianOf(runs.gateway);
  result.plain = medianOf(runs.plain);
  if (rounds > 1) {
    const ratios = runs.gateway.map(
      (g, i) => g.values[key] / runs.plain[i].values[key],
    );
    result.notes.push(
      `median of ${rounds} alternating rounds; gw/plain per round: ` +
        ratios.map((r) => r.toFixed(2)).join(', '),
    );
  }
  return runs;
}

/** The window's instants: it opens after `warmupMs` (and a little slack for the commands to arrive). */
export function windowOf(
  warmupMs: number,
  measureMs: number,
): { startUs: number; endUs: number } {
  const startUs = nowUs() + 100_000 + warmupMs * 1000;
  return { startUs, endUs: startUs + measureMs * 1000 };
}

export interface WindowSample {
  serverCpu: number;
  serverCoreBusy?: number;
  loadCoreBusy?: number;
  serverCoreSteal?: number;
}

/** Fractions of a core's time between a reading of /proc/stat and now. */
function coreShares(
  before: CoreTimes | undefined,
  core: number | undefined,
): { busy: number; steal: number } | undefined {
  if (!before || core === undefined) return undefined;
  const after = coreTimes(core);
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  return {
    busy: (after.busy - before.busy) / total,
    steal: (after.steal - before.steal) / total,
  };
}

/** Busy fraction of a core between two readings of /proc/stat. */
export function busyBetween(
  before: CoreTimes | undefined,
  core: number | undefined,
): number | undefined {
  return coreShares(before, core)?.busy;
}

/**
 * Samples, at the window's edges, the CPU time of the server processes and the busy time of the
 * server's and the load's cores (when pinned); resolves after the window with fractions of one
 * core. A core busier than its own processes make it means other processes ran there.
 */
export async function sampleWindow(
  servers: RunningServer[],
  startUs: number,
  endUs: number,
  pinning: Pinning,
): Promise<WindowSample> {
  const { serverCore, loadCore } = pinning;
  await sleepUntil(startUs);
  const cpu0 = servers.map((s) => s.cpuSeconds());
  const server0 = serverCore === undefined ? undefined : coreTimes(serverCore);
  const load0 = loadCore === undefined ? undefined : coreTimes(loadCore);
  const t0 = nowUs();
  await sleepUntil(endUs);
  const seconds = (nowUs() - t0) / 1e6;
  const used = servers.reduce((sum, s, i) => sum + s.cpuSeconds() - cpu0[i], 0);
  const serverShares = coreShares(server0, serverCore);
  return {
    serverCpu: used / seconds,
    serverCoreBusy: serverShares?.busy,
    loadCoreBusy: busyBetween(load0, loadCore),
    serverCoreSteal: serverShares?.steal,
  };
}

/** The load workers' CPU in the window, as a fraction of one core (they share the load core). */
export function loadCpuOf(samples: CpuSample[]): number {
  const windowUs = Math.max(...samples.map((s) => s.windowUs));
  return samples.reduce((sum, s) => sum + s.cpuUs, 0) / windowUs;
}

/** Throws when a worker could not open all its sockets: a case with missing clients is no case. */
export function requireOpened(
  what: string,
  results: Array<{ opened: number; failed: number; firstError?: string }>,
): number {
  const opened = results.reduce((n, r) => n + r.opened, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) {
    const first = results.find((r) => r.firstError)?.firstError;
    throw new Error(`${what}: ${failed} connection(s) failed (${first})`);
  }
  return opened;
}

/** How many load workers `sockets` need: at least the profile's minimum, at most N per worker. */
export function workersFor(profile: Profile, sockets: number): number {
  return Math.max(
    profile.minWorkers,
    Math.ceil(sockets / profile.socketsPerWorker),
  );
}
