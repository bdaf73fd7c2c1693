import { randomBytes } from 'node:crypto';
import { Fleet } from '../load/fleet.js';
import type { ReconnectResult } from '../load/protocol.js';
import { BENCH_TOKEN, type RunningServer } from '../servers/launch.js';
import { Histogram } from '../support/histogram.js';
import {
  extraServer,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

const METRICS: MetricSpec[] = [
  {
    key: 'connectP50',
    label: 'p50 connect → caught up',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'connectP99',
    label: 'p99 connect → caught up',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'openP50',
    label: 'p50 open → caught up',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'openP99',
    label: 'p99 open → caught up',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
];

const ms = (h: Histogram, p: number) => h.percentile(p) / 1000;

/** Reconnect rounds with `missed` messages each, then a few with none (the fixed cost). */
async function measure(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
  label: string,
): Promise<Measurement> {
  const { missed, rounds, warmupRounds } = ctx.profile.reconnect;
  const room = `bench/recover-${randomBytes(4).toString('hex')}`;
  const command = {
    type: 'reconnect' as const,
    url: server.url,
    token: BENCH_TOKEN,
    room,
    warmupRounds,
    timeoutMs: 10_000,
  };
  ctx.log(`reconnect ${label}: ${rounds} rounds of ${missed} missed`);
  const cpu0 = server.cpuSeconds();
  const full: ReconnectResult = await fleet.one(0, {
    ...command,
    missed,
    rounds,
  });
  const cpuSeconds = server.cpuSeconds() - cpu0;
  const none: ReconnectResult = await fleet.one(0, {
    ...command,
    room: `${room}-none`,
    missed: 0,
    rounds: Math.max(1, Math.ceil(rounds / 3)),
  });
  const fromConnect = new Histogram().merge(full.fromConnect);
  const fromOpen = new Histogram().merge(full.fromOpen);
  const toOpen = new Histogram().merge(full.toOpen);
  const baseline = new Histogram().merge(none.fromConnect);
  const baselineOpen = new Histogram().merge(none.fromOpen);
  return {
    values: {
      connectP50: ms(fromConnect, 0.5),
      connectP99: ms(fromConnect, 0.99),
      openP50: ms(fromOpen, 0.5),
      openP99: ms(fromOpen, 0.99),
    },
    notes: [
      `${full.rounds} rounds (after ${warmupRounds} not counted), ${missed} messages missed and recovered in each; connect → open p50 ${ms(toOpen, 0.5).toFixed(2)} ms`,
      `the same reconnect with nothing missed (join with since, recovered:true, no push): connect → caught up p50 ${ms(baseline, 0.5).toFixed(2)} ms, open → caught up p50 ${ms(baselineOpen, 0.5).toFixed(2)} ms`,
      `server CPU per round (${missed} publishes acknowledged, a close, a reconnect and a recovery of ${missed}): ${((cpuSeconds * 1e3) / (full.rounds + warmupRounds)).toFixed(1)} ms`,
    ],
  };
}

/**
 * (7) Reconnect to caught up: a client in a room notes its position and disconnects; `missed`
 * messages are published; it reconnects and joins with `since`. Timed from the start of the TCP
 * connect and from the socket's open to the join reply, which comes after the replayed pushes.
 * On the shared gateway (history in memory), then on a gateway with Redis (streams and Lua), as
 * the cross-instance scenario starts its gateways (started for this scenario: servers/extras.ts).
 * No plain `ws` counterpart.
 */
export async function reconnectScenario(ctx: Context): Promise<CaseResult[]> {
  const { missed } = ctx.profile.reconnect;
  const out: CaseResult[] = [];
  const fleet = await Fleet.start(1, ctx.machine.pinning.load);
  try {
    out.push({
      scenario: 'recovery',
      name: `reconnect, ${missed} missed, history in memory`,
      metrics: METRICS,
      gateway: await measure(ctx, fleet, ctx.pair!.gateway, 'in memory'),
      noPlain: true,
      notes: [],
    });
    out.push({
      scenario: 'recovery',
      name: `reconnect, ${missed} missed, history in Redis`,
      metrics: METRICS,
      gateway: await measure(
        ctx,
        fleet,
        extraServer(ctx, 'redisHistory'),
        'Redis',
      ),
      noPlain: true,
      notes: [
        'one gateway with REDIS_URL (history in Redis streams, appended and read by Lua scripts), Redis unpinned',
      ],
    });
  } finally {
    await fleet.stop();
  }
  return out;
}
