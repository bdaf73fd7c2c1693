import { Fleet, split } from '../load/fleet.js';
import type { PublishLoopResult, ReceiveResult } from '../load/protocol.js';
import { presenceTokens } from '../servers/extras.js';
import type { RunningServer } from '../servers/launch.js';
import { Histogram } from '../support/histogram.js';
import { sourceAddresses } from '../support/ports.js';
import {
  CPU_PER_OP,
  extraServer,
  loadCpuOf,
  medianOf,
  requireOpened,
  sampleWindow,
  windowOf,
  workersFor,
  type CaseResult,
  type Context,
  type Measurement,
  type MetricSpec,
} from './common.js';

const CYCLE_METRICS: MetricSpec[] = [
  {
    key: 'cps',
    label: 'join/leave cycles/s',
    unit: '/s',
    better: 'higher',
  },
  {
    key: 'p50',
    label: 'p50 join → leave reply',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'p99',
    label: 'p99 join → leave reply',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  CPU_PER_OP('join/leave cycle'),
];

/**
 * The part of a request's CPU that the server would have burned idle over the same time: its idle
 * share of a core (`idleCpu`) spread over the requests of one second.
 */
const idleCpuPerRequest = (idleCpu: number, m: Measurement): number =>
  (idleCpu * 1e6) / m.values.rps;

const REQUEST_METRICS: MetricSpec[] = [
  {
    key: 'rps',
    label: 'presence requests/s',
    unit: '/s',
    better: 'higher',
  },
  {
    key: 'p50',
    label: 'p50 presence → reply',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  {
    key: 'p99',
    label: 'p99 presence → reply',
    unit: 'ms',
    better: 'lower',
    decimals: 2,
  },
  CPU_PER_OP('presence request'),
];

type Variant = 'on' | 'off';
const LABEL: Record<Variant, string> = {
  on: 'presence on',
  off: 'PRESENCE_ENABLED=false',
};

const count = (n: number) => n.toLocaleString('en-US');

function loopNotes(what: string, results: PublishLoopResult[]): string[] {
  const notes: string[] = [];
  const errors = results.reduce((n, r) => n + r.errors, 0);
  const unanswered = results.reduce((n, r) => n + r.unanswered, 0);
  if (errors > 0)
    notes.push(
      `${errors} error frame(s) to ${what}: ${results.find((r) => r.firstError)?.firstError}`,
    );
  if (unanswered > 0)
    notes.push(`${unanswered} ${what} request(s) unanswered after the window`);
  return notes;
}

/** The sockets' tokens: worker w of `workers` gets its share of `tokens`, in order. */
function sharesOf(tokens: string[], workers: number): string[][] {
  const sizes = split(tokens.length, workers);
  let at = 0;
  return sizes.map((n) => tokens.slice(at, (at += n)));
}

/**
 * Cyclers on every worker but the last, each socket a principal of its own, looping join/leave
 * on one room; on the last worker one more principal in the room, subscribed to its presence
 * (presence on) or a plain member (off: `join` with `presence` is refused there).
 */
async function measureCycles(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
  variant: Variant,
  room: string,
): Promise<Measurement> {
  const { profile, machine } = ctx;
  const { cyclers, warmupMs, measureMs } = profile.presence;
  const tokens = presenceTokens(profile);
  const cyclerWorkers = Array.from({ length: fleet.size - 1 }, (_, w) => w);
  const subscriber = fleet.size - 1;
  const shares = sharesOf(tokens.slice(0, cyclers), cyclerWorkers.length);
  try {
    requireOpened(`join/leave on ${server.label}`, [
      ...(await fleet.all(
        (w) => ({
          type: 'connect',
          url: server.url,
          token: '',
          tokens: shares[w],
          count: shares[w].length,
          localAddresses: sourceAddresses(profile.sourceAddresses),
          group: 'cyclers',
          concurrency: profile.connectConcurrency,
          handshakeTimeoutMs: 10_000,
        }),
        cyclerWorkers,
      )),
      await fleet.one(subscriber, {
        type: 'connect',
        url: server.url,
        token: tokens[cyclers],
        count: 1,
        localAddresses: [],
        group: 'subscriber',
        concurrency: 1,
        handshakeTimeoutMs: 10_000,
      }),
    ]);
    const joined = await fleet.one(subscriber, {
      type: 'join',
      room,
      presence: variant === 'on',
      concurrency: 1,
      timeoutMs: 10_000,
    });
    if (joined.failed > 0)
      throw new Error(
        `join/leave on ${server.label}: the subscriber's join failed (${joined.firstError})`,
      );
    const { startUs, endUs } = windowOf(warmupMs, measureMs);
    const [loops, [pushes], sample] = await Promise.all([
      fleet.all(
        { type: 'joinLeave', room, startUs, endUs, drainMs: 3000 },
        cyclerWorkers,
      ),
      fleet.all(
        {
          type: 'receive',
          push: 'presence',
          startUs,
          endUs,
          untilUs: endUs + 50_000,
        },
        [subscriber],
      ),
      sampleWindow([server], startUs, endUs, machine.pinning),
    ]);
    const completed = loops.reduce((n, r) => n + r.completed, 0);
    if (completed === 0)
      throw new Error(`join/leave on ${server.label}: no cycle in the window`);
    const latency = new Histogram();
    for (const r of loops) latency.merge(r.latency);
    const cps = completed / (measureMs / 1000);
    const diffs = subscriberPushes(pushes);
    return {
      values: {
        cps,
        p50: latency.percentile(0.5) / 1000,
        p99: latency.percentile(0.99) / 1000,
        cpuPerOp: (sample.serverCpu * 1e6) / cps,
      },
      serverCpu: sample.serverCpu,
      loadCpu: loadCpuOf([...loops, pushes]),
      serverCoreBusy: sample.serverCoreBusy,
      loadCoreBusy: sample.loadCoreBusy,
      notes: [
        ...loopNotes('join/leave', loops),
        ...(variant === 'on'
          ? [
              `the subscriber received ${diffs.toFixed(1)} presence pushes/s in the window` +
                (pushes.other > 0
                  ? ` (and ${pushes.other} other frame(s): ${pushes.firstOther})`
                  : ''),
            ]
          : []),
      ],
    };
  } finally {
    await fleet.all({ type: 'closeAll', timeoutMs: 5000 });
  }
}

function subscriberPushes(r: ReceiveResult): number {
  const delivered = Object.values(r.groups).reduce(
    (n, g) => n + g.delivered,
    0,
  );
  return delivered / (r.windowUs / 1e6);
}

/** One closed-loop window of `presence` requests (1 in flight) from the requester. */
async function measureRequests(
  ctx: Context,
  fleet: Fleet,
  server: RunningServer,
  requester: number,
  room: string,
  countOnly: boolean,
): Promise<Measurement> {
  const { requestWarmupMs, requestMeasureMs } = ctx.profile.presence;
  const { startUs, endUs } = windowOf(requestWarmupMs, requestMeasureMs);
  const [[loop], sample] = await Promise.all([
    fleet.all(
      {
        type: 'presenceLoop',
        room,
        countOnly,
        inFlight: 1,
        startUs,
        endUs,
        drainMs: 3000,
      },
      [requester],
    ),
    sampleWindow([server], startUs, endUs, ctx.machine.pinning),
  ]);
  if (loop.completed === 0)
    throw new Error(`presence on ${server.label}: no reply in the window`);
  const latency = new Histogram().merge(loop.latency);
  const rps = loop.completed / (requestMeasureMs / 1000);
  return {
    values: {
      rps,
      p50: latency.percentile(0.5) / 1000,
      p99: latency.percentile(0.99) / 1000,
      cpuPerOp: (sample.serverCpu * 1e6) / rps,
    },
    serverCpu: sample.serverCpu,
    loadCpu: loadCpuOf([loop]),
    serverCoreBusy: sample.serverCoreBusy,
    loadCoreBusy: sample.loadCoreBusy,
    notes: loopNotes('presence', [loop]),
  };
}

/**
 * (9) Presence, on two gateways of their own accepting one static token per principal (started
 * for it: servers/extras.ts). Join/leave throughput with presence on (one subscriber in
 * the room) and off (`PRESENCE_ENABLED=false`), alternating; then the cost of a `presence`
 * request, full list and countOnly, on a room of `members` members (the presence-on gateway
 * lists up to that many). No plain `ws` counterpart.
 */
export async function presenceScenario(ctx: Context): Promise<CaseResult[]> {
  const { profile } = ctx;
  const { cyclers, rounds, members } = profile.presence;
  const servers: Record<Variant, RunningServer> = {
    on: extraServer(ctx, 'presenceOn'),
    off: extraServer(ctx, 'presenceOff'),
  };
  const run = Date.now().toString(36);
  const memberWorkers = Math.max(2, workersFor(profile, members));
  const fleet = await Fleet.start(memberWorkers + 1, ctx.machine.pinning.load);
  const out: CaseResult[] = [];
  try {
    const runs: Record<Variant, Measurement[]> = { on: [], off: [] };
    for (let round = 0; round < rounds; round++) {
      for (const variant of (round % 2 === 0
        ? ['on', 'off']
        : ['off', 'on']) as Variant[]) {
        ctx.log(
          `presence join/leave, ${cyclers} principals: ${LABEL[variant]}` +
            (rounds > 1 ? `, round ${round + 1} of ${rounds}` : ''),
        );
        runs[variant].push(
          await measureCycles(
            ctx,
            fleet,
            servers[variant],
            variant,
            `bench/presence-${run}-${round}-${variant}`,
          ),
        );
      }
    }
    const on = medianOf(runs.on);
    const off = medianOf(runs.off);
    const ratios = CYCLE_METRICS.map(
      (m) => `${m.label} ${(on.values[m.key] / off.values[m.key]).toFixed(2)}`,
    );
    // A cycle is two member changes (a join and a leave of a principal alone in its membership).
    const perChange = (on.values.cpuPerOp - off.values.cpuPerOp) / 2;
    const name = `${count(cyclers)} principals cycling join/leave on one room`;
    const roundNote =
      rounds > 1
        ? [
            `median of ${rounds} alternating rounds; cycles/s per round, on / off: ${runs.on
              .map((m, k) => (m.values.cps / runs.off[k].values.cps).toFixed(2))
              .join(', ')}`,
          ]
        : [];
    out.push(
      {
        scenario: 'presence',
        name: `${name}, presence on, 1 subscriber`,
        metrics: CYCLE_METRICS,
        gateway: on,
        noPlain: true,
        notes: [
          ...roundNote,
          `presence on / PRESENCE_ENABLED=false: ${ratios.join(', ')}`,
          `server CPU per member change (a join or a leave) that presence adds: ${perChange.toFixed(1)} µs (half the difference of CPU per cycle)`,
          'one static token per principal (AUTH_TOKENS), the presence store in memory; PRESENCE_MAX_MEMBERS is raised for the request case below, above this room either way',
        ],
      },
      {
        scenario: 'presence',
        name: `${name}, PRESENCE_ENABLED=false`,
        metrics: CYCLE_METRICS,
        gateway: off,
        noPlain: true,
        notes: ['the extra member joins without presence (refused when off)'],
      },
    );

    // The request cost on a large room: members on every worker but the last, the requester
    // (a second connection of the first member, so the room keeps `members` members) on it.
    const server = servers.on;
    const room = `bench/presence-${run}-big`;
    const requester = fleet.size - 1;
    const memberIndexes = Array.from({ length: memberWorkers }, (_, w) => w);
    const tokens = presenceTokens(profile).slice(0, members);
    const shares = sharesOf(tokens, memberWorkers);
    try {
      ctx.log(
        `presence requests: ${count(members)} members joining ${server.label}`,
      );
      const t0 = Date.now();
      requireOpened(`presence requests on ${server.label}: members`, [
        ...(await fleet.all(
          (w) => ({
            type: 'connect',
            url: server.url,
            token: '',
            tokens: shares[w],
            count: shares[w].length,
            localAddresses: sourceAddresses(profile.sourceAddresses),
            group: 'members',
            concurrency: profile.connectConcurrency,
            handshakeTimeoutMs: 10_000,
          }),
          memberIndexes,
        )),
        await fleet.one(requester, {
          type: 'connect',
          url: server.url,
          token: tokens[0],
          count: 1,
          localAddresses: [],
          group: 'requester',
          concurrency: 1,
          handshakeTimeoutMs: 10_000,
        }),
      ]);
      const joins = await fleet.all({
        type: 'join',
        room,
        concurrency: 16,
        timeoutMs: 10_000,
      });
      const failed = joins.find((r) => r.failed > 0);
      if (failed)
        throw new Error(
          `presence requests on ${server.label}: a join failed (${failed.firstError})`,
        );
      const fillMs = Date.now() - t0;
      const { replies } = await fleet.one(requester, {
        type: 'requests',
        requests: [
          { event: 'presence', data: { room, countOnly: true } },
          { event: 'presence', data: { room } },
        ],
        timeoutMs: 10_000,
      });
      const counted = replies[0].data as { count?: number };
      const listed = replies[1].data as { count?: number; members?: unknown[] };
      if (counted.count !== members || listed.members?.length !== members)
        throw new Error(
          `presence requests on ${server.label}: count ${counted.count}, ${listed.members?.length} listed, where ${members} members joined`,
        );
      const listBytes = Buffer.byteLength(JSON.stringify(listed));
      // What the server burns with these members and no request (timers, the presence store's
      // refresh every PRESENCE_TTL_MS / 3): part of CPU per request at one in flight.
      const quiet = windowOf(0, ctx.profile.presence.requestMeasureMs);
      const idle = await sampleWindow(
        [server],
        quiet.startUs,
        quiet.endUs,
        ctx.machine.pinning,
      );
      const idleNote = `the same server with no request: ${(idle.serverCpu * 100).toFixed(1)} % of a core (counted in CPU per request)`;
      const sizeNote = `${count(members)} members, each a principal of its own with one connection (the requester is a second connection of one of them); connected and joined in ${(fillMs / 1000).toFixed(1)} s; PRESENCE_MAX_MEMBERS=${Math.max(1000, members)} so that the room is listed`;
      for (const countOnly of [false, true]) {
        const what = countOnly ? 'countOnly' : 'full list';
        ctx.log(`presence requests: ${what}, ${count(members)} members`);
        const m = await measureRequests(
          ctx,
          fleet,
          server,
          requester,
          room,
          countOnly,
        );
        out.push({
          scenario: 'presence',
          name: `presence ${what}, 1 in flight, ${count(members)}-member room`,
          metrics: REQUEST_METRICS,
          gateway: m,
          noPlain: true,
          notes: [
            sizeNote,
            idleNote,
            countOnly
              ? `reply: ${Buffer.byteLength(JSON.stringify(counted))} bytes of data`
              : `reply: ${count(listBytes)} bytes of data (${(listBytes / members).toFixed(0)} per member); server CPU per listed member: ${((m.values.cpuPerOp - idleCpuPerRequest(idle.serverCpu, m)) / members).toFixed(2)} µs (the request's CPU less the server's idle share, over ${count(members)})`,
          ],
        });
      }
    } finally {
      await fleet.all({ type: 'closeAll', timeoutMs: 10_000 });
    }
  } finally {
    await fleet.stop();
  }
  return out;
}
