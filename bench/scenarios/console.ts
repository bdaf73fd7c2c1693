import { randomBytes } from 'node:crypto';
import { Fleet, split } from '../load/fleet.js';
import {
  BENCH_TOKEN,
  startServer,
  type RunningServer,
} from '../servers/launch.js';
import { nowUs, sleep, sleepUntil, until } from '../support/clock.js';
import type { Pinning } from '../support/machine.js';
import { CLOCK_TICKS, coreTimes, runSeconds } from '../support/procfs.js';
import { sourceAddresses } from '../support/ports.js';
import { REDIS_URL } from './cluster.js';
import { echoMetrics, measureEcho } from './echo.js';
import {
  busyBetween,
  median,
  medianOf,
  requireOpened,
  windowOf,
  workersFor,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

/** The console's one login: an admin, as in docs/console.md. */
const CONSOLE_SECRET = 'correct-horse-battery-staple';
const CONSOLE_TOKENS = `alice:admin:${CONSOLE_SECRET}`;

/** The issue's target: the stats cost under 1 % of a core per instance at idle. */
const IDLE_TARGET_PERCENT = 1;

type Variant = 'on' | 'off';
const LABEL: Record<Variant, string> = { on: 'console on', off: 'console off' };
const INSTANCES = ['a', 'b'] as const;

const count = (n: number) => n.toLocaleString('en-US');
const percent = (fraction: number) => fraction * 100;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const IDLE_CPU: MetricSpec = {
  key: 'cpu',
  label: 'server CPU per instance, idle',
  unit: '%',
  better: 'lower',
  decimals: 3,
};
const IDLE_ADDED: MetricSpec = {
  key: 'added',
  label: 'added by the console (on − off), per instance',
  unit: '%',
  better: 'lower',
  decimals: 3,
  limit: { op: '<', value: IDLE_TARGET_PERCENT },
};
const IDLE_ADDED_TOGETHER: MetricSpec = {
  ...IDLE_ADDED,
  key: 'addedTogether',
  label: 'the same, both pairs read at the same moments',
};
const ECHO_RATIOS: MetricSpec[] = [
  {
    key: 'rpsRatio',
    label: 'round-trips/s, console on / off',
    unit: '',
    better: 'higher',
    decimals: 2,
  },
  {
    key: 'cpuRatio',
    label: 'CPU per round-trip, console on / off',
    unit: '',
    better: 'lower',
    decimals: 2,
  },
];

/** What `GET /console/api/instances` answers (docs/console.md), the parts read here. */
interface InstancesAnswer {
  self: string;
  intervalMs: number;
  instances: Array<{ id: string; connections: number; gone: boolean }>;
}

async function consoleInstances(
  server: RunningServer,
): Promise<{ status: number; body?: InstancesAnswer }> {
  const res = await fetch(
    `http://127.0.0.1:${server.port}/console/api/instances`,
    {
      headers: { authorization: `Bearer ${CONSOLE_SECRET}` },
      signal: AbortSignal.timeout(5000),
    },
  );
  if (!res.ok) {
    await res.body?.cancel();
    return { status: res.status };
  }
  return { status: res.status, body: (await res.json()) as InstancesAnswer };
}

/**
 * Waits until each console-on instance lists every one of them, live, with its clients
 * counted: the numbers went over the bus both ways. Resolves with the stats interval.
 */
async function checkStatsFlow(
  servers: RunningServer[],
  clients: number,
): Promise<number> {
  let intervalMs = 2000;
  for (const server of servers) {
    intervalMs = await until(
      `${server.label}'s console to list ${servers.length} instances with ${clients} connections each`,
      async () => {
        const { body } = await consoleInstances(server);
        const live = body?.instances.filter(
          (i) => !i.gone && i.connections === clients,
        );
        return body && live && live.length === servers.length
          ? body.intervalMs
          : undefined;
      },
      // Three stats intervals at the default (2 s), and a second.
      7000,
      250,
    );
  }
  return intervalMs;
}

interface IdleWindow {
  /**
   * Each instance's CPU in the window, fraction of one core: time on a CPU from schedstat (to
   * the nanosecond) where the kernel has it, else `ticks`.
   */
  perServer: number[];
  /** The same from /proc/<pid>/stat (user + system, in ticks). */
  ticks: number[];
  precise: boolean;
  serverCpu: number;
  serverCoreBusy?: number;
  loadCoreBusy?: number;
}

/**
 * Reads every server's CPU time, both ways, at the window's edges, and both cores' busy time;
 * resolves after the window.
 */
async function idleWindow(
  servers: RunningServer[],
  idleMs: number,
  pinning: Pinning,
): Promise<IdleWindow> {
  const { startUs, endUs } = windowOf(0, idleMs);
  const read = () =>
    servers.map((s) => ({ ticks: s.cpuSeconds(), run: runSeconds(s.pid) }));
  await sleepUntil(startUs);
  const before = read();
  const server0 =
    pinning.serverCore === undefined
      ? undefined
      : coreTimes(pinning.serverCore);
  const load0 =
    pinning.loadCore === undefined ? undefined : coreTimes(pinning.loadCore);
  const t0 = nowUs();
  await sleepUntil(endUs);
  const after = read();
  const seconds = (nowUs() - t0) / 1e6;
  const ticks = after.map((a, i) => (a.ticks - before[i].ticks) / seconds);
  const precise = after.every(
    (a, i) => a.run !== undefined && before[i].run !== undefined,
  );
  const perServer = precise
    ? after.map((a, i) => (a.run! - before[i].run!) / seconds)
    : ticks;
  return {
    perServer,
    ticks,
    precise,
    serverCpu: perServer.reduce((a, b) => a + b, 0),
    serverCoreBusy: busyBetween(server0, pinning.serverCore),
    loadCoreBusy: busyBetween(load0, pinning.loadCore),
  };
}

/** Where each variant's pair is in the list of every server: on first, off second. */
const FIRST: Record<Variant, number> = { on: 0, off: INSTANCES.length };

/** A window read on every server, narrowed to one variant's pair. */
function pairOf(w: IdleWindow, variant: Variant): IdleWindow {
  const at = FIRST[variant];
  const perServer = w.perServer.slice(at, at + INSTANCES.length);
  return {
    ...w,
    perServer,
    ticks: w.ticks.slice(at, at + INSTANCES.length),
    serverCpu: perServer.reduce((a, b) => a + b, 0),
  };
}

/** The idle windows of one variant as one measurement: medians, in % of one core per instance. */
function idleMeasurement(windows: IdleWindow[]): Measurement {
  return medianOf(
    windows.map((w) => ({
      values: { cpu: percent(mean(w.perServer)) },
      serverCpu: w.serverCpu,
      serverCoreBusy: w.serverCoreBusy,
      loadCoreBusy: w.loadCoreBusy,
      notes: [],
    })),
  );
}

/**
 * (10) The web console's cost. Two gateways with the console on (`CONSOLE_TOKENS`) on one
 * Redis, each publishing its numbers every stats interval and hearing the other's, and two with
 * the console off on the same Redis (a channel prefix of their own), `clients` idle clients
 * connected to each. Idle: alternating windows, the on pair then the off pair (then off, on,
 * ...), each instance's CPU time from /proc over the window; the console's cost is on − off per
 * instance, against the target (< 1 % of a core). Then the message path: echo at `connections`
 * × 1 in flight on one gateway of each, alternating. No plain `ws` counterpart.
 */
export async function consoleScenario(ctx: Context): Promise<CaseResult[]> {
  const { profile, machine } = ctx;
  const { clients, settleMs, idleMs, rounds, echo } = profile.console;
  const run = randomBytes(4).toString('hex');
  const servers: Record<Variant, RunningServer[]> = { on: [], off: [] };
  const all = () => [...servers.on, ...servers.off];
  let fleet: Fleet | undefined;
  try {
    ctx.log(
      `console: starting 2 gateways with the console on and 2 with it off on ${REDIS_URL}`,
    );
    const variants: Variant[] = ['on', 'off'];
    const started = await Promise.allSettled(
      variants.flatMap((variant) =>
        INSTANCES.map((id) =>
          startServer('gateway', {
            label: `console-${variant}-${id}`,
            pinCores: machine.pinning.server,
            redis: { url: REDIS_URL, prefix: `bench-${run}-${variant}:` },
            env: variant === 'on' ? { CONSOLE_TOKENS } : {},
          }).then((server) => servers[variant].push(server)),
        ),
      ),
    );
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    servers.on.sort((x, y) => x.label.localeCompare(y.label));
    servers.off.sort((x, y) => x.label.localeCompare(y.label));

    // The console is off where it should be: no console API at all.
    for (const server of servers.off) {
      const { status } = await consoleInstances(server);
      if (status !== 404)
        throw new Error(
          `console: ${server.label} answers ${status} at /console/api/instances, where the console is off (404)`,
        );
    }

    fleet = await Fleet.start(
      workersFor(profile, Math.max(4 * clients, echo.connections)),
      machine.pinning.load,
    );
    const addresses = sourceAddresses(profile.sourceAddresses);
    const shares = split(clients, fleet.size);
    for (const server of all())
      requireOpened(
        `console: idle clients on ${server.label}`,
        await fleet.all((w) => ({
          type: 'connect',
          url: server.url,
          token: BENCH_TOKEN,
          count: shares[w],
          localAddresses: addresses,
          group: server.label,
          concurrency: profile.connectConcurrency,
          handshakeTimeoutMs: 10_000,
        })),
      );

    // The boots' garbage is collected now, not in a window.
    await Promise.all(all().map((s) => s.collectGarbage(profile.gcWaitMs)));
    await sleep(settleMs);

    const windows: Record<Variant, IdleWindow[]> = { on: [], off: [] };
    // Every window reads all four (idle all along): the other pair gives a second comparison,
    // on and off at the same moments.
    const readings: IdleWindow[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const variant of (round % 2 === 0
        ? ['on', 'off']
        : ['off', 'on']) as Variant[]) {
        ctx.log(
          `console idle, 2 instances × ${count(clients)} clients: ${LABEL[variant]}` +
            (rounds > 1 ? `, round ${round + 1} of ${rounds}` : ''),
        );
        const reading = await idleWindow(all(), idleMs, machine.pinning);
        readings.push(reading);
        windows[variant].push(pairOf(reading, variant));
      }
    }
    // The numbers did go over the bus, both ways, with the clients counted.
    const intervalMs = await checkStatsFlow(servers.on, clients);
    await fleet.all({ type: 'closeAll', timeoutMs: 5000 });

    const on = idleMeasurement(windows.on);
    const off = idleMeasurement(windows.off);
    /** The mean of a window's instances, in % of a core. */
    const perInstance = (w: IdleWindow, get: (w: IdleWindow) => number[]) =>
      percent(mean(get(w)));
    /** Per round, per instance: the on pair's window minus the off pair's of the same round. */
    const addedBy = (get: (w: IdleWindow) => number[]) =>
      windows.on.map(
        (w, k) => perInstance(w, get) - perInstance(windows.off[k], get),
      );
    const added = addedBy((w) => w.perServer);
    on.values.added = median(added);
    const together = readings.map(
      (r) =>
        perInstance(pairOf(r, 'on'), (w) => w.perServer) -
        perInstance(pairOf(r, 'off'), (w) => w.perServer),
    );
    on.values.addedTogether = median(together);
    const precise = readings.every((w) => w.precise);
    const fromTicks = (variant: Variant) =>
      median(windows[variant].map((w) => perInstance(w, (x) => x.ticks)));
    const byInstance = (variant: Variant) =>
      INSTANCES.map(
        (id, i) =>
          `${id} ${percent(median(windows[variant].map((w) => w.perServer[i]))).toFixed(3)} %`,
      ).join(', ');
    const perIntervalUs = (addedPercent: number) =>
      ((addedPercent / 100) * intervalMs * 1000).toFixed(0);
    const idleName = `idle, 2 instances × ${count(clients)} clients`;
    const tick = `${(1000 / CLOCK_TICKS).toFixed(0)} ms ticks, ${percent(1 / CLOCK_TICKS / (idleMs / 1000)).toFixed(2)} % of a core over a ${idleMs / 1000} s window`;
    const method = precise
      ? `CPU is each process's time on a CPU, its threads' /proc/<pid>/task/*/schedstat (nanoseconds); from /proc/<pid>/stat instead (user + system, ${tick}): on ${fromTicks('on').toFixed(2)} %, off ${fromTicks('off').toFixed(2)} %, on − off ${median(addedBy((w) => w.ticks)).toFixed(2)} % per instance`
      : `CPU is user + system time of each process from /proc/<pid>/stat (${tick}; no schedstat here)`;
    const setup = `four gateways on one Redis (${REDIS_URL}), the on pair and the off pair each on a channel prefix of their own, all pinned to the server core, Redis unpinned; ${count(clients)} idle clients on each, no traffic`;
    const out: CaseResult[] = [
      {
        scenario: 'console',
        name: `${idleName}, console on`,
        metrics: [IDLE_CPU, IDLE_ADDED, IDLE_ADDED_TOGETHER],
        gateway: on,
        noPlain: true,
        notes: [
          `${rounds > 1 ? `median of ${rounds} alternating ${idleMs / 1000} s windows per variant` : `one ${idleMs / 1000} s window per variant`}; on − off per instance, round by round: ${added.map((d) => `${d.toFixed(3)} %`).join(', ')}`,
          `per instance: ${byInstance('on')} (console on); ${byInstance('off')} (console off)`,
          `the same read on both pairs in every window (the same moments): on − off per instance in each of the ${together.length} windows: ${together.map((d) => `${d.toFixed(3)} %`).join(', ')}`,
          `what the console adds per instance per stats interval (${intervalMs} ms), publishing its numbers and reading the other's: ${perIntervalUs(on.values.added)} µs of CPU from the alternating windows, ${perIntervalUs(on.values.addedTogether)} µs from the same moments`,
          `each console-on instance listed both instances with ${count(clients)} connections each (GET /console/api/instances); the console-off ones answer 404 there`,
          setup,
          method,
        ],
      },
      {
        scenario: 'console',
        name: `${idleName}, console off`,
        metrics: [IDLE_CPU],
        gateway: off,
        noPlain: true,
        notes: [],
      },
    ];

    // The message path: echo on one gateway of each variant, alternating.
    const targets: Record<Variant, RunningServer> = {
      on: servers.on[0],
      off: servers.off[0],
    };
    const echoName = `echo, ${count(echo.connections)} conns × 1 in flight`;
    if (echo.firstWindowMs > 0)
      for (const variant of variants) {
        ctx.log(`console ${echoName}: ${LABEL[variant]}, not counted`);
        await measureEcho(ctx, fleet, targets[variant], echo.connections, 1, {
          warmupMs: 0,
          measureMs: echo.firstWindowMs,
        });
      }
    const runs: Record<Variant, Measurement[]> = { on: [], off: [] };
    for (let round = 0; round < echo.rounds; round++) {
      for (const variant of (round % 2 === 0
        ? ['on', 'off']
        : ['off', 'on']) as Variant[]) {
        ctx.log(
          `console ${echoName}: ${LABEL[variant]}` +
            (echo.rounds > 1 ? `, round ${round + 1} of ${echo.rounds}` : ''),
        );
        runs[variant].push(
          await measureEcho(
            ctx,
            fleet,
            targets[variant],
            echo.connections,
            1,
            echo,
          ),
        );
      }
    }
    const echoOn = medianOf(runs.on);
    const echoOff = medianOf(runs.off);
    echoOn.values.rpsRatio = echoOn.values.rps / echoOff.values.rps;
    echoOn.values.cpuRatio = echoOn.values.cpuPerOp / echoOff.values.cpuPerOp;
    out.push(
      {
        scenario: 'console',
        name: `${echoName}, console on`,
        metrics: [...echoMetrics(1, false), ...ECHO_RATIOS],
        gateway: echoOn,
        noPlain: true,
        notes: [
          `${echo.rounds > 1 ? `median of ${echo.rounds} alternating ${echo.measureMs / 1000} s windows per variant` : `one ${echo.measureMs / 1000} s window per variant`}${echo.firstWindowMs > 0 ? `, after one of ${echo.firstWindowMs / 1000} s each not counted (the JIT's warm-up)` : ''}; round-trips/s per round, on / off: ${runs.on
            .map((m, k) => (m.values.rps / runs.off[k].values.rps).toFixed(2))
            .join(', ')}`,
          `on ${targets.on.label} and ${targets.off.label} (the idle clients closed); both instances of each pair still running`,
        ],
      },
      {
        scenario: 'console',
        name: `${echoName}, console off`,
        metrics: echoMetrics(1, false),
        gateway: echoOff,
        noPlain: true,
        notes: [],
      },
    );
    return out;
  } finally {
    await fleet?.stop();
    await Promise.all(all().map((s) => s.stop()));
  }
}
