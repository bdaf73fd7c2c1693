import { Fleet, split } from '../load/fleet.js';
import {
  BENCH_TOKEN,
  startServer,
  type RunningServer,
  type ServerKind,
} from '../servers/launch.js';
import { sleep, until } from '../support/clock.js';
import { sourceAddresses } from '../support/ports.js';
import {
  order,
  requireOpened,
  workersFor,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

const KiB = 1024;

const METRICS: MetricSpec[] = [
  {
    key: 'rssPerConn',
    label: 'RSS per idle connection',
    unit: 'KiB',
    better: 'lower',
    decimals: 1,
    target: { op: '<=', ratio: 1.3 },
  },
  {
    key: 'heapPerConn',
    label: 'heap per idle connection',
    unit: 'KiB',
    better: 'lower',
    decimals: 1,
  },
  {
    key: 'heapAfterClose',
    label: 'heap after close − before',
    unit: 'KiB',
    better: 'lower',
    decimals: 0,
    noRatio: true,
  },
];

/** Fewer than asked when the open-files limit cannot hold them (each side needs one fd each). */
function feasible(
  ctx: Context,
  wanted: number,
): { count: number; note?: string } {
  const limit = ctx.machine.openFilesHardLimit;
  const cap = Number.isFinite(limit) ? limit - 1000 : wanted;
  if (wanted <= cap) return { count: wanted };
  return {
    count: cap,
    note: `${cap.toLocaleString('en-US')} connections, not ${wanted.toLocaleString('en-US')}: the open-files hard limit is ${limit} (ulimit -Hn) and cannot be raised here (no CAP_SYS_RESOURCE); the server holds one fd per connection`,
  };
}

async function measure(
  ctx: Context,
  fleet: Fleet,
  kind: ServerKind,
  count: number,
  label: string,
): Promise<Measurement> {
  const fresh = ctx.profile.memory.freshServers || !ctx.pair;
  let server: RunningServer | undefined;
  try {
    server = fresh
      ? await startServer(kind, { label, pinCores: ctx.machine.pinning.server })
      : ctx.pair![kind];
    const s = server;
    await sleep(ctx.profile.memory.settleMs);
    await s.collectGarbage(ctx.profile.gcWaitMs);
    const rss0 = s.rss();
    const heap0 = await s.heapUsed();

    const shares = split(count, fleet.size);
    const started = Date.now();
    requireOpened(
      label,
      await fleet.all((w) => ({
        type: 'connect',
        url: s.url,
        token: BENCH_TOKEN,
        count: shares[w],
        localAddresses: sourceAddresses(ctx.profile.sourceAddresses),
        group: kind,
        concurrency: ctx.profile.connectConcurrency,
        handshakeTimeoutMs: 20_000,
      })),
    );
    const connectMs = Date.now() - started;
    await until(
      `${label}: ${count} open connections`,
      async () => ((await s.openConnections()) >= count ? true : undefined),
      20_000,
      200,
    );
    await sleep(ctx.profile.memory.settleMs);
    await s.collectGarbage(ctx.profile.gcWaitMs);
    const rss1 = s.rss();
    const heap1 = await s.heapUsed();

    const closed = await fleet.all({ type: 'closeAll', timeoutMs: 20_000 });
    await until(
      `${label}: every connection closed`,
      async () => ((await s.openConnections()) === 0 ? true : undefined),
      20_000,
      200,
    );
    await sleep(ctx.profile.memory.settleMs);
    await s.collectGarbage(ctx.profile.gcWaitMs);
    const heap2 = await s.heapUsed();
    const rss2 = s.rss();

    const notes: string[] = [
      `connected in ${(connectMs / 1000).toFixed(1)} s; RSS ${mib(rss0)} → ${mib(rss1)} → ${mib(rss2)} MiB after close; heap ${mib(heap0)} → ${mib(heap1)} → ${mib(heap2)} MiB`,
    ];
    const terminated = closed.reduce((n, r) => n + r.terminated, 0);
    if (terminated > 0)
      notes.push(`${terminated} client(s) had to be terminated`);
    const retained = heap2 - heap0;
    const grown = heap1 - heap0;
    if (retained > Math.max(2 * 1024 * KiB, 0.1 * grown))
      notes.push(
        `heap after close is ${mib(retained)} MiB above the start: possible leak`,
      );
    return {
      values: {
        rssPerConn: (rss1 - rss0) / count / KiB,
        heapPerConn: (heap1 - heap0) / count / KiB,
        heapAfterClose: retained / KiB,
      },
      notes,
    };
  } finally {
    if (fresh) await server?.stop();
  }
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/**
 * (4) Memory: RSS per idle connection (VmRSS before and after connecting, each after a full GC),
 * and the heap once they have all closed again, against the heap before: no leak.
 */
export async function memoryScenario(ctx: Context): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  const counts = ctx.profile.memory.connections.map((wanted) =>
    feasible(ctx, wanted),
  );
  const most = Math.max(...counts.map((c) => c.count));
  const fleet = await Fleet.start(
    workersFor(ctx.profile, most),
    ctx.machine.pinning.load,
  );
  try {
    for (const [i, { count, note }] of counts.entries()) {
      const name = `${count.toLocaleString('en-US')} idle connections`;
      const result: CaseResult = {
        scenario: 'memory',
        name,
        metrics: METRICS,
        notes: note ? [note] : [],
      };
      for (const kind of order(i)) {
        ctx.log(`memory ${name}: ${kind}`);
        result[kind] = await measure(
          ctx,
          fleet,
          kind,
          count,
          `memory-${count}-${kind}`,
        );
      }
      out.push(result);
    }
  } finally {
    await fleet.stop();
  }
  return out;
}
