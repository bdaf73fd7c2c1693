import { Fleet } from '../load/fleet.js';
import {
  BENCH_TOKEN,
  startServer,
  type RunningServer,
} from '../servers/launch.js';
import { Histogram } from '../support/histogram.js';
import { sourceAddresses } from '../support/ports.js';
import {
  alternatingRounds,
  CAPACITY,
  capacityOf,
  CPU_PER_OP,
  loadCpuOf,
  order,
  sampleWindow,
  windowOf,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

/** A wrong token must be refused with 401 before anything is measured. */
async function checkRefusal(
  fleet: Fleet,
  server: RunningServer,
): Promise<void> {
  const refused = await fleet.one(0, {
    type: 'connect',
    url: server.url,
    token: 'not-the-token',
    count: 1,
    localAddresses: [],
    group: 'refused',
    concurrency: 1,
    handshakeTimeoutMs: 5000,
  });
  if (refused.opened !== 0 || !refused.firstError?.includes('HTTP 401'))
    throw new Error(
      `${server.label} did not refuse a wrong token with 401 (${refused.firstError})`,
    );
}

async function measure(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
): Promise<Measurement> {
  const { profile, machine } = ctx;
  const { startUs, endUs } = windowOf(
    profile.handshake.warmupMs,
    profile.handshake.measureMs,
  );
  const [results, sample] = await Promise.all([
    fleet.all({
      type: 'handshake',
      url: server.url,
      token: BENCH_TOKEN,
      localAddresses: sourceAddresses(profile.sourceAddresses),
      concurrency: profile.handshake.concurrency,
      startUs,
      endUs,
      handshakeTimeoutMs: 10_000,
    }),
    sampleWindow([server], startUs, endUs, machine.pinning),
  ]);
  const latency = new Histogram();
  for (const r of results) latency.merge(r.latency);
  const opened = results.reduce((n, r) => n + r.opened, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const hps = opened / (profile.handshake.measureMs / 1000);
  if (opened === 0)
    throw new Error(`handshakes on ${server.label}: none completed`);
  const notes: string[] = [];
  if (failed > 0)
    notes.push(
      `${failed} handshake(s) failed: ${results.find((r) => r.firstError)?.firstError}`,
    );
  return {
    values: {
      hps,
      cpuPerOp: (sample.serverCpu * 1e6) / hps,
      capacity: capacityOf((sample.serverCpu * 1e6) / hps),
      p50: latency.percentile(0.5) / 1000,
      p99: latency.percentile(0.99) / 1000,
    },
    serverCpu: sample.serverCpu,
    loadCpu: loadCpuOf(results),
    serverCoreBusy: sample.serverCoreBusy,
    loadCoreBusy: sample.loadCoreBusy,
    notes,
  };
}

const HANDSHAKES_PER_SECOND: MetricSpec = {
  key: 'hps',
  label: 'handshakes/s',
  unit: '/s',
  better: 'higher',
};

/**
 * (5) Connection rate: connect (static token checked at the upgrade), wait for open, close;
 * many such cycles in parallel.
 */
export async function handshakeScenario(ctx: Context): Promise<CaseResult[]> {
  const pair = ctx.pair!;
  const fleet = await Fleet.start(
    ctx.profile.minWorkers,
    ctx.machine.pinning.load,
  );
  const parallel = ctx.profile.handshake.concurrency * fleet.size;
  const result: CaseResult = {
    scenario: 'handshakes',
    name: `${parallel} in parallel, static token`,
    metrics: [
      { ...HANDSHAKES_PER_SECOND, target: { op: '>=', ratio: 0.92 } },
      {
        key: 'p50',
        label: 'p50 upgrade → open',
        unit: 'ms',
        better: 'lower',
        decimals: 2,
      },
      {
        key: 'p99',
        label: 'p99 upgrade → open',
        unit: 'ms',
        better: 'lower',
        decimals: 2,
      },
      CPU_PER_OP('handshake'),
      CAPACITY('handshakes', { op: '>=', ratio: 0.92 }),
    ],
    notes: [],
  };
  // Diagnostic, no target: the same gateway logging at warn, without its two info lines per
  // connection (opened, closed), against the same plain server. The difference between the two
  // cases is what those lines cost.
  const quiet: CaseResult = {
    scenario: 'handshakes',
    name: `${parallel} in parallel, gateway at LOG_LEVEL=warn`,
    metrics: [
      HANDSHAKES_PER_SECOND,
      CPU_PER_OP('handshake'),
      CAPACITY('handshakes'),
    ],
    notes: [],
  };
  let quietGateway: RunningServer | undefined;
  try {
    for (const kind of order(0)) await checkRefusal(fleet, pair[kind]);
    await alternatingRounds(
      ctx,
      result,
      ctx.profile.handshake.rounds,
      'hps',
      (kind) => measure(ctx, fleet, pair[kind]),
    );
    for (const kind of order(0))
      result[kind]!.notes.unshift('a wrong token is refused with 401');

    quietGateway = await startServer('gateway', {
      label: 'gateway-log-warn',
      pinCores: ctx.machine.pinning.server,
      env: { LOG_LEVEL: 'warn' },
    });
    const quietPair = { gateway: quietGateway, plain: pair.plain };
    await checkRefusal(fleet, quietGateway);
    await alternatingRounds(
      ctx,
      quiet,
      ctx.profile.handshake.quietRounds,
      'hps',
      (kind) => measure(ctx, fleet, quietPair[kind]),
    );
  } finally {
    await quietGateway?.stop();
    await fleet.stop();
  }
  return [result, quiet];
}
