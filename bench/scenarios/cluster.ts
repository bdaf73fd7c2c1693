import { randomBytes } from 'node:crypto';
import { Fleet } from '../load/fleet.js';
import { startServer, type RunningServer } from '../servers/launch.js';
import { deliveryMetrics, runFanout } from './fanout.js';
import {
  CAPACITY,
  capacityOf,
  CPU_PER_OP,
  workersFor,
  type CaseResult,
  type Context,
} from './common.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * (3) Cross-instance fan-out through Redis: two gateways on one Redis (a channel prefix of this
 * run's own), half the receivers on each, the publisher on the first; then the first alone, all
 * the receivers on it, the same rate. No plain `ws` counterpart: absolute numbers, with the
 * latency of the receivers on the other instance apart, and how the cost of a delivery changes
 * from one instance to two (what says whether deliveries/s scale with instances).
 */
export async function clusterScenario(ctx: Context): Promise<CaseResult[]> {
  const { receivers, rate, warmupMs, measureMs } = ctx.profile.cluster;
  const prefix = `bench-${randomBytes(4).toString('hex')}:`;
  const count = receivers.toLocaleString('en-US');
  const name = `2 gateways, ${count} receivers, ${rate} msg/s`;
  const single = `1 gateway (the same, through Redis), ${count} receivers, ${rate} msg/s`;
  const servers: RunningServer[] = [];
  let fleet: Fleet | undefined;
  try {
    ctx.log(
      `cluster: starting two gateways on ${REDIS_URL} (prefix ${prefix})`,
    );
    const started = await Promise.allSettled(
      ['a', 'b'].map((id) =>
        startServer('gateway', {
          label: `cluster-gateway-${id}`,
          pinCores: ctx.machine.pinning.server,
          redis: { url: REDIS_URL, prefix },
        }),
      ),
    );
    for (const s of started)
      if (s.status === 'fulfilled') servers.push(s.value);
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    const [a, b] = servers;
    // Receiver workers come in pairs: the first half on instance a, the second on b.
    const half = Math.max(1, Math.ceil(workersFor(ctx.profile, receivers) / 2));
    fleet = await Fleet.start(2 * half + 1, ctx.machine.pinning.load);
    ctx.log(`cluster ${name}`);
    /** The offered load with receiver worker w on `targets[w]`, in group `groups[w]`. */
    const fanout = (
      targets: RunningServer[],
      groups: string[],
      label: string,
    ) =>
      runFanout(ctx, {
        fleet: fleet!,
        targets,
        groups,
        publishTo: a,
        servers: [...new Set(targets)],
        receivers,
        rate,
        warmupMs,
        measureMs,
        label: `cluster ${label}`,
      });
    const { measurement, byGroup } = await fanout(
      [
        ...Array<RunningServer>(half).fill(a),
        ...Array<RunningServer>(half).fill(b),
      ],
      [
        ...Array<string>(half).fill('same'),
        ...Array<string>(half).fill('other'),
      ],
      name,
    );
    const other = byGroup.other;
    measurement.values.remoteP99 = other
      ? other.percentile(0.99) / 1000
      : Number.NaN;
    measurement.values.remoteP50 = other
      ? other.percentile(0.5) / 1000
      : Number.NaN;
    measurement.values.capacity = capacityOf(measurement.values.cpuPerOp);

    // The same offered load on one instance: the second stops, every receiver worker goes to the
    // first (it still publishes to and hears from Redis).
    await b.stop();
    servers.splice(1, 1);
    ctx.log(`cluster ${single}`);
    const alone = await fanout(
      Array<RunningServer>(2 * half).fill(a),
      Array<string>(2 * half).fill('same'),
      single,
    );
    const one = alone.measurement;
    one.values.capacity = capacityOf(one.values.cpuPerOp);
    const perDelivery = measurement.values.cpuPerOp / one.values.cpuPerOp;
    return [
      {
        scenario: 'cross-instance',
        name,
        metrics: [
          ...deliveryMetrics(),
          {
            key: 'remoteP50',
            label: 'p50, other instance',
            unit: 'ms',
            better: 'lower',
            decimals: 2,
          },
          {
            key: 'remoteP99',
            label: 'p99, other instance',
            unit: 'ms',
            better: 'lower',
            decimals: 2,
          },
          CPU_PER_OP('delivery (both gateways)'),
          CAPACITY('deliveries'),
        ],
        gateway: measurement,
        noPlain: true,
        notes: [
          `offered: ${(rate * receivers).toLocaleString('en-US')} deliveries/s; both gateways pinned to the server core, Redis unpinned; server CPU is the two gateways together`,
          `CPU per delivery, 2 instances / 1: ${perDelivery.toFixed(2)}: each instance delivers to its own receivers and pays once per published message for the bus, so with a core each, deliveries/s scale with instances by 2 / ${perDelivery.toFixed(2)} = ${(2 / perDelivery).toFixed(2)}x here`,
        ],
      },
      {
        scenario: 'cross-instance',
        name: single,
        metrics: [
          ...deliveryMetrics(),
          CPU_PER_OP('delivery'),
          CAPACITY('deliveries'),
        ],
        gateway: one,
        noPlain: true,
        notes: [
          'the first gateway of the case above, the second stopped: the publish still goes through Redis',
        ],
      },
    ];
  } finally {
    await fleet?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
