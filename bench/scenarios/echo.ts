import { Fleet, split } from '../load/fleet.js';
import { BENCH_TOKEN, type RunningServer } from '../servers/launch.js';
import { Histogram } from '../support/histogram.js';
import { sourceAddresses } from '../support/ports.js';
import {
  alternatingRounds,
  CAPACITY,
  capacityOf,
  CPU_PER_OP,
  loadCpuOf,
  order,
  requireOpened,
  sampleWindow,
  windowOf,
  workersFor,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

/**
 * What an echo window measures ({@link measureEcho}'s values), with the targets against plain
 * `ws`: with `1` in flight, the rate at 0.92 both as measured and per core of server CPU (where
 * the load generator is the limit, the second is the server's own); from 32 in flight, the rate
 * at 0.85 and p99 latency at 1.15 in the medians and 1.3 in the worst round. `targeted` false:
 * the same rows without targets (a case with no plain counterpart).
 */
export const echoMetrics = (
  inFlight: number,
  targeted = true,
): MetricSpec[] => {
  const single = targeted && inFlight === 1;
  const batched = targeted && inFlight >= 32;
  return [
    {
      key: 'rps',
      label: 'round-trips/s',
      unit: '/s',
      better: 'higher',
      target: single
        ? { op: '>=', ratio: 0.92 }
        : batched
          ? { op: '>=', ratio: 0.85 }
          : undefined,
    },
    {
      key: 'p50',
      label: 'p50 latency',
      unit: 'ms',
      better: 'lower',
      decimals: 2,
    },
    {
      key: 'p99',
      label: 'p99 latency',
      unit: 'ms',
      better: 'lower',
      decimals: 2,
      target: batched ? { op: '<=', ratio: 1.15 } : undefined,
    },
    ...(batched
      ? [
          {
            key: 'p99Worst',
            label: 'p99 latency, worst round',
            unit: 'ms',
            better: 'lower',
            decimals: 2,
            target: { op: '<=', ratio: 1.3 },
          } satisfies MetricSpec,
        ]
      : []),
    CPU_PER_OP('round-trip'),
    CAPACITY('round-trips', single ? { op: '>=', ratio: 0.92 } : undefined),
  ];
};

/**
 * The round whose gateway/plain p99 ratio is the highest, as two values whose ratio is that one:
 * the `p99Worst` row of {@link echoMetrics}.
 */
function worstP99Round(
  result: CaseResult,
  runs: Record<'gateway' | 'plain', Measurement[]>,
): void {
  const ratios = runs.gateway.map(
    (g, i) => g.values.p99 / runs.plain[i].values.p99,
  );
  const worst = ratios.indexOf(Math.max(...ratios));
  result.gateway!.values.p99Worst = runs.gateway[worst].values.p99;
  result.plain!.values.p99Worst = runs.plain[worst].values.p99;
  result.notes.push(
    `p99 gw/plain per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
    `worst p99 round (round ${worst + 1}): ${roundOf(runs.gateway[worst])} for the gateway, ${roundOf(runs.plain[worst])} for plain ws`,
  );
}

/**
 * One round's window as the worst-round note tells it: its p99, its rate, and how busy each core
 * was beyond the server's or the load workers' own CPU time (other processes, the orchestrator on
 * the load core, the kernel's network work), so that a round something else disturbed can be
 * told from one the server made slow. On the server core, how much of that the hypervisor took
 * (steal): time the core was not running this VM at all.
 */
function roundOf(m: Measurement): string {
  const pct = (x: number) => `${Math.max(0, Math.round(x * 100))} %`;
  const others = (busy?: number, own?: number) =>
    busy === undefined || own === undefined ? 'n/a' : pct(busy - own);
  const stolen =
    m.serverCoreSteal === undefined ? '' : ` (steal ${pct(m.serverCoreSteal)})`;
  return (
    `p99 ${m.values.p99.toFixed(1)} ms at ${Math.round(m.values.rps).toLocaleString('en-US')}/s, ` +
    `others on the server core ${others(m.serverCoreBusy, m.serverCpu)}${stolen}, ` +
    `on the load core ${others(m.loadCoreBusy, m.loadCpu)}`
  );
}

/**
 * One echo window on `server`: `connections` clients (opened here, closed after), each keeping
 * `inFlight` requests outstanding; the window's lengths are echo's unless `timing` says otherwise.
 */
export async function measureEcho(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
  connections: number,
  inFlight: number,
  timing: { warmupMs: number; measureMs: number } = ctx.profile.echo,
): Promise<Measurement> {
  const { profile, machine } = ctx;
  const shares = split(connections, fleet.size);
  const addresses = sourceAddresses(profile.sourceAddresses);
  try {
    requireOpened(
      `echo on ${server.label}`,
      await fleet.all((w) => ({
        type: 'connect',
        url: server.url,
        token: BENCH_TOKEN,
        count: shares[w],
        localAddresses: addresses,
        group: server.kind,
        concurrency: profile.connectConcurrency,
        handshakeTimeoutMs: 10_000,
      })),
    );
    const { startUs, endUs } = windowOf(timing.warmupMs, timing.measureMs);
    const [results, sample] = await Promise.all([
      fleet.all({ type: 'echo', inFlight, startUs, endUs, drainMs: 3000 }),
      sampleWindow([server], startUs, endUs, machine.pinning),
    ]);
    const latency = new Histogram();
    for (const r of results) latency.merge(r.latency);
    const completed = results.reduce((n, r) => n + r.completed, 0);
    const rps = completed / (timing.measureMs / 1000);
    const errors = results.reduce((n, r) => n + r.errors, 0);
    const unanswered = results.reduce((n, r) => n + r.unanswered, 0);
    const notes: string[] = [];
    if (errors > 0)
      notes.push(
        `${errors} error frame(s): ${results.find((r) => r.firstError)?.firstError}`,
      );
    if (unanswered > 0)
      notes.push(`${unanswered} request(s) unanswered after the window`);
    if (completed === 0)
      throw new Error(`echo on ${server.label}: no reply in the window`);
    return {
      values: {
        rps,
        p50: latency.percentile(0.5) / 1000,
        p99: latency.percentile(0.99) / 1000,
        cpuPerOp: (sample.serverCpu * 1e6) / rps,
        capacity: capacityOf((sample.serverCpu * 1e6) / rps),
      },
      serverCpu: sample.serverCpu,
      loadCpu: loadCpuOf(results),
      serverCoreBusy: sample.serverCoreBusy,
      loadCoreBusy: sample.loadCoreBusy,
      serverCoreSteal: sample.serverCoreSteal,
      notes,
    };
  } finally {
    await fleet.all({ type: 'closeAll', timeoutMs: 5000 });
  }
}

/**
 * One window per server before a case's rounds, not counted, as the other scenarios do: a new
 * load brings the JIT's work on its paths and, on a server whose heap is near the limit its boot
 * left, a full collection. What it measured is still reported, in a note.
 */
async function firstWindows(
  ctx: Context,
  fleet: Fleet,
  result: CaseResult,
  connections: number,
  inFlight: number,
): Promise<string | undefined> {
  const { firstWindowMs } = ctx.profile.echo;
  if (firstWindowMs <= 0) return undefined;
  const p99 = { gateway: 0, plain: 0 };
  for (const kind of order(0)) {
    ctx.log(`${result.scenario} ${result.name}: ${kind}, not counted`);
    const window = await measureEcho(
      ctx,
      fleet,
      ctx.pair![kind],
      connections,
      inFlight,
      { warmupMs: 0, measureMs: firstWindowMs },
    );
    p99[kind] = window.values.p99;
  }
  return (
    `after one ${firstWindowMs / 1000} s window per server not counted (the JIT's warm-up); ` +
    `p99 gw/plain there: ${(p99.gateway / p99.plain).toFixed(2)}`
  );
}

/** (1) Echo throughput: N connections, each keeping K small requests in flight. */
export async function echoScenario(ctx: Context): Promise<CaseResult[]> {
  const pair = ctx.pair!;
  const cases = ctx.profile.echo.cases;
  const most = Math.max(...cases.map((c) => c.connections));
  const fleet = await Fleet.start(
    workersFor(ctx.profile, most),
    ctx.machine.pinning.load,
  );
  const out: CaseResult[] = [];
  try {
    for (const { connections, inFlight, rounds } of cases) {
      const name = `${connections.toLocaleString('en-US')} conns × ${inFlight} in flight`;
      const result: CaseResult = {
        scenario: 'echo',
        name,
        metrics: echoMetrics(inFlight),
        notes: [],
      };
      const first = await firstWindows(
        ctx,
        fleet,
        result,
        connections,
        inFlight,
      );
      const runs = await alternatingRounds(ctx, result, rounds, 'rps', (kind) =>
        measureEcho(ctx, fleet, pair[kind], connections, inFlight),
      );
      if (first) result.notes.push(first);
      if (inFlight >= 32) worstP99Round(result, runs);
      out.push(result);
    }
  } finally {
    await fleet.stop();
  }
  return out;
}
