import { Fleet, split } from '../load/fleet.js';
import type { ReceiveResult } from '../load/protocol.js';
import { BENCH_TOKEN, type RunningServer } from '../servers/launch.js';
import { Histogram } from '../support/histogram.js';
import { sourceAddresses } from '../support/ports.js';
import {
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
  type WindowSample,
} from './common.js';

/** Deliveries per second and delivery latency: shared with the cross-instance scenario. */
export const deliveryMetrics = (
  dpsTarget?: MetricSpec['target'],
): MetricSpec[] => [
  {
    key: 'dps',
    label: 'deliveries/s',
    unit: '/s',
    better: 'higher',
    target: dpsTarget,
  },
  {
    key: 'p50',
    label: 'p50 delivery latency',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'p99',
    label: 'p99 delivery latency',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
];

const metrics = (receivers: number): MetricSpec[] => [
  ...deliveryMetrics(
    receivers >= 10_000 ? { op: '>=', ratio: 0.9 } : undefined,
  ),
  CPU_PER_OP('delivery'),
];

/** Where the receivers are: `targets[w]` is the server of receiver worker w. */
export interface FanoutSetup {
  fleet: Fleet;
  /** Receiver workers' servers; the fleet's last worker is the publisher. */
  targets: RunningServer[];
  /** Group name of receiver worker w (reported separately). */
  groups: string[];
  publishTo: RunningServer;
  /** All servers whose CPU counts. */
  servers: RunningServer[];
  receivers: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  label: string;
  /**
   * A room: the receivers join it and the publisher publishes to it (`message` pushes), instead
   * of `broadcast`. The publisher is not a member.
   */
  room?: string;
}

/**
 * Connects the receivers and the publisher, publishes at the fixed rate through the warm-up and
 * the window, and counts what arrives in the window: deliveries/s and latency, per group too.
 */
export async function runFanout(
  ctx: Context,
  setup: FanoutSetup,
): Promise<{ measurement: Measurement; byGroup: Record<string, Histogram> }> {
  const { fleet, targets, groups } = setup;
  const receiverWorkers = targets.length;
  const publisher = fleet.size - 1;
  const shares = split(setup.receivers, receiverWorkers);
  const addresses = sourceAddresses(ctx.profile.sourceAddresses);
  const receiverIndexes = targets.map((_, w) => w);
  try {
    requireOpened(
      `${setup.label}: receivers`,
      await fleet.all(
        (w) => ({
          type: 'connect',
          url: targets[w].url,
          token: BENCH_TOKEN,
          count: shares[w],
          localAddresses: addresses,
          group: groups[w],
          concurrency: ctx.profile.connectConcurrency,
          handshakeTimeoutMs: 10_000,
        }),
        receiverIndexes,
      ),
    );
    if (setup.room !== undefined) {
      const joins = await fleet.all(
        {
          type: 'join',
          room: setup.room,
          concurrency: ctx.profile.connectConcurrency,
          timeoutMs: 10_000,
        },
        receiverIndexes,
      );
      const failed = joins.reduce((n, r) => n + r.failed, 0);
      if (failed > 0)
        throw new Error(
          `${setup.label}: ${failed} join(s) failed (${joins.find((r) => r.firstError)?.firstError})`,
        );
    }
    requireOpened(`${setup.label}: publisher`, [
      await fleet.one(publisher, {
        type: 'connect',
        url: setup.publishTo.url,
        token: BENCH_TOKEN,
        count: 1,
        localAddresses: [],
        group: 'publisher',
        concurrency: 1,
        handshakeTimeoutMs: 10_000,
      }),
    ]);
    const { startUs, endUs } = windowOf(setup.warmupMs, setup.measureMs);
    const [received, published, sample] = await Promise.all([
      fleet.all(
        {
          type: 'receive',
          push: setup.room === undefined ? 'broadcast' : 'message',
          startUs,
          endUs,
          untilUs: endUs + ctx.profile.drainMs * 1000,
        },
        receiverIndexes,
      ),
      fleet.one(publisher, {
        type: 'publish',
        rate: setup.rate,
        room: setup.room,
        endUs,
      }),
      sampleWindow(setup.servers, startUs, endUs, ctx.machine.pinning),
    ]);
    return summarize(setup, received, published, sample);
  } finally {
    await fleet.all({ type: 'closeAll', timeoutMs: 8000 });
  }
}

function summarize(
  setup: FanoutSetup,
  received: ReceiveResult[],
  published: {
    published: number;
    acked: number;
    errors: number;
    firstError?: string;
    cpuUs: number;
    windowUs: number;
  },
  sample: WindowSample,
): { measurement: Measurement; byGroup: Record<string, Histogram> } {
  const all = new Histogram();
  const byGroup: Record<string, Histogram> = {};
  let delivered = 0;
  let late = 0;
  for (const r of received) {
    for (const [name, g] of Object.entries(r.groups)) {
      delivered += g.delivered;
      late += g.late;
      all.merge(g.latency);
      (byGroup[name] ??= new Histogram()).merge(g.latency);
    }
  }
  const notes: string[] = [];
  const seconds = setup.measureMs / 1000;
  const offered = setup.rate * setup.receivers;
  const dps = delivered / seconds;
  if (dps < 0.98 * offered)
    notes.push(
      `delivered ${Math.round((100 * dps) / offered)} % of the offered ${offered.toLocaleString('en-US')}/s`,
    );
  // Some deliveries are always under way when the window closes; half a second's worth or more
  // still to come is a backlog: the server fell behind.
  if (late > offered / 2)
    notes.push(
      `${late.toLocaleString('en-US')} deliveries still arrived after the window: a backlog of ${(late / offered).toFixed(1)} s`,
    );
  if (published.errors > 0)
    notes.push(
      `publisher got ${published.errors} error(s): ${published.firstError}`,
    );
  if (published.acked < published.published)
    notes.push(
      `${published.published - published.acked} ${setup.room === undefined ? 'broadcast(s)' : 'publish(es)'} not acknowledged`,
    );
  const other = received.reduce((n, r) => n + r.other, 0);
  if (other > 0)
    notes.push(
      `${other} unexpected frame(s) at receivers: ${received.find((r) => r.firstOther)?.firstOther}`,
    );
  if (delivered === 0)
    throw new Error(`${setup.label}: nothing delivered in the window`);
  return {
    measurement: {
      values: {
        dps,
        p50: all.percentile(0.5) / 1000,
        p99: all.percentile(0.99) / 1000,
        cpuPerOp: (sample.serverCpu * 1e6) / dps,
      },
      serverCpu: sample.serverCpu,
      loadCpu: loadCpuOf([...received, published]),
      serverCoreBusy: sample.serverCoreBusy,
      loadCoreBusy: sample.loadCoreBusy,
      notes,
    },
    byGroup,
  };
}

/** {@link runFanout} with every receiver worker and the publisher on one server. */
export async function fanoutOnOne(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
  load: Pick<
    FanoutSetup,
    'receivers' | 'rate' | 'warmupMs' | 'measureMs' | 'label' | 'room'
  >,
): Promise<Measurement> {
  const receiverWorkers = fleet.size - 1;
  const { measurement } = await runFanout(ctx, {
    fleet,
    targets: Array.from({ length: receiverWorkers }, () => server),
    groups: Array.from({ length: receiverWorkers }, () => 'all'),
    publishTo: server,
    servers: [server],
    ...load,
  });
  return measurement;
}

/** (2) Broadcast fan-out: R receivers, one publisher at a fixed rate, the same for both servers. */
export async function fanoutScenario(ctx: Context): Promise<CaseResult[]> {
  const pair = ctx.pair!;
  const { cases, warmupMs, measureMs } = ctx.profile.fanout;
  const most = Math.max(...cases.map((c) => c.receivers));
  const receiverWorkers = workersFor(ctx.profile, most);
  const fleet = await Fleet.start(
    receiverWorkers + 1,
    ctx.machine.pinning.load,
  );
  const out: CaseResult[] = [];
  try {
    for (const [i, { receivers, rate }] of cases.entries()) {
      const name = `${receivers.toLocaleString('en-US')} receivers, ${rate} msg/s`;
      const result: CaseResult = {
        scenario: 'fan-out',
        name,
        metrics: metrics(receivers),
        notes: [
          `offered: ${(rate * receivers).toLocaleString('en-US')} deliveries/s`,
        ],
      };
      for (const kind of order(i)) {
        ctx.log(`fan-out ${name}: ${kind}`);
        result[kind] = await fanoutOnOne(ctx, fleet, pair[kind], {
          receivers,
          rate,
          warmupMs,
          measureMs,
          label: `fan-out ${name} on ${pair[kind].label}`,
        });
      }
      out.push(result);
    }
  } finally {
    await fleet.stop();
  }
  return out;
}
