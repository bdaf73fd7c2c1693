import { randomBytes } from 'node:crypto';
import { Fleet } from '../load/fleet.js';
import {
  BENCH_TOKEN,
  startServer,
  type RunningServer,
} from '../servers/launch.js';
import { sleep } from '../support/clock.js';
import {
  requireOpened,
  type CaseResult,
  type Context,
  type MetricSpec,
} from './common.js';

const METRICS: MetricSpec[] = [
  {
    key: 'rssPerMessage',
    label: 'RSS per kept message',
    unit: 'B',
    better: 'lower',
  },
  {
    key: 'heapPerMessage',
    label: 'heap per kept message',
    unit: 'B',
    better: 'lower',
  },
];

/**
 * The embedded store counts a kept message as `2 × frame length + 128` bytes against
 * `HISTORY_MEMORY_BYTES` (src/gateway/history/in-memory-history-store.ts, ENTRY_OVERHEAD).
 */
const STORE_ENTRY_OVERHEAD = 128;
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;
/** On the fresh gateway: far above what the fills keep, so nothing is evicted. */
const FRESH_MEMORY_BYTES = 1024 * 1024 * 1024;

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

interface HistoryReplyData {
  offset: number;
  epoch: string;
  messages: Array<{ offset: number }>;
}

/** Starts every room push; a kept frame is this, the message's JSON, and `}`. */
const FRAME_PREFIX = '{"event":"message","data":';

/**
 * Messages the rooms keep (per room, its top minus its oldest kept offset, plus one), and the
 * length of one kept frame, rebuilt from a `history` reply (its keys come in the frame's order).
 */
async function keptMessages(
  fleet: Fleet,
  rooms: string[],
): Promise<{ kept: number; frameChars: number }> {
  const tops = await fleet.one(0, {
    type: 'requests',
    requests: rooms.map((room) => ({
      event: 'history',
      data: { room, limit: 1 },
    })),
    timeoutMs: 10_000,
  });
  const oldest = await fleet.one(0, {
    type: 'requests',
    requests: tops.replies.map(({ data }, i) => ({
      event: 'history',
      data: {
        room: rooms[i],
        since: { offset: 0, epoch: (data as HistoryReplyData).epoch },
        limit: 1,
      },
    })),
    timeoutMs: 10_000,
  });
  let kept = 0;
  let frameChars = 0;
  for (const [i, { data }] of oldest.replies.entries()) {
    const { offset: top, messages } = data as HistoryReplyData;
    const top0 = (tops.replies[i].data as HistoryReplyData).offset;
    if (messages.length > 0 && top === top0) {
      kept += top - messages[0].offset + 1;
      frameChars ||=
        FRAME_PREFIX.length + JSON.stringify(messages[0]).length + 1;
    }
  }
  return { kept, frameChars };
}

/**
 * (8) Memory per kept message: the gateway's RSS (VmRSS) and heap (`nodejs_heap_size_used_bytes`
 * of /metrics), each after a full GC, before and after filling `rooms` rooms with `perRoom`
 * messages of each payload size, divided by the messages kept. History in memory (no Redis);
 * nobody is in the rooms, so what grows is the store. No plain `ws` counterpart.
 */
export async function historyMemoryScenario(
  ctx: Context,
): Promise<CaseResult[]> {
  const { rooms, perRoom, payloadBytes, publishers, inFlight, freshServer } =
    ctx.profile.historyMemory;
  const fresh = freshServer || !ctx.pair;
  const memoryBytes = fresh ? FRESH_MEMORY_BYTES : DEFAULT_MEMORY_BYTES;
  const out: CaseResult[] = [];
  let server: RunningServer | undefined;
  const fleet = await Fleet.start(1, ctx.machine.pinning.load);
  try {
    if (fresh) ctx.log('history memory: starting a gateway of its own');
    server = fresh
      ? await startServer('gateway', {
          label: 'gateway-history-memory',
          pinCores: ctx.machine.pinning.server,
          env: { HISTORY_MEMORY_BYTES: String(memoryBytes) },
        })
      : ctx.pair!.gateway;
    const s = server;
    requireOpened('history memory: publishers', [
      await fleet.one(0, {
        type: 'connect',
        url: s.url,
        token: BENCH_TOKEN,
        count: publishers,
        localAddresses: [],
        group: 'publishers',
        concurrency: publishers,
        handshakeTimeoutMs: 10_000,
      }),
    ]);
    const settle = async () => {
      await sleep(ctx.profile.memory.settleMs);
      await s.collectGarbage(ctx.profile.gcWaitMs);
      return { rss: s.rss(), heap: await s.heapUsed() };
    };
    const run = randomBytes(3).toString('hex');
    for (const bytes of payloadBytes) {
      const name = `${rooms} rooms × ${perRoom.toLocaleString('en-US')} messages of ${bytes.toLocaleString('en-US')} B`;
      const names = Array.from(
        { length: rooms },
        (_, r) => `bench/memory-${run}-${bytes}-${r}`,
      );
      ctx.log(`history memory ${name}`);
      const before = await settle();
      const filled = await fleet.one(0, {
        type: 'fill',
        rooms: names,
        perRoom,
        payloadBytes: bytes,
        inFlight,
        timeoutMs: 60_000,
      });
      const after = await settle();
      const { kept, frameChars } = await keptMessages(fleet, names);
      if (filled.errors > 0 || kept === 0)
        throw new Error(
          `history memory ${name}: ${filled.errors} publish error(s) (${filled.firstError}), ${kept} kept`,
        );
      const counted = 2 * frameChars + STORE_ENTRY_OVERHEAD;
      const heapPerMessage = (after.heap - before.heap) / kept;
      out.push({
        scenario: 'history memory',
        name,
        metrics: METRICS,
        gateway: {
          values: {
            rssPerMessage: (after.rss - before.rss) / kept,
            heapPerMessage,
          },
          notes: [
            `${kept.toLocaleString('en-US')} of ${filled.acked.toLocaleString('en-US')} kept, filled in ${(filled.ms / 1000).toFixed(1)} s (${Math.round(filled.acked / (filled.ms / 1000)).toLocaleString('en-US')} publishes/s, ${publishers} publisher(s) × ${inFlight} in flight); RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, heap ${mib(before.heap)} → ${mib(after.heap)} MiB`,
            `a kept frame is about ${frameChars} characters; the store counts it as ${counted} B (2 × characters + ${STORE_ENTRY_OVERHEAD}) against HISTORY_MEMORY_BYTES (${mib(memoryBytes)} MiB here), ${(counted / heapPerMessage).toFixed(2)} × the heap it was measured to take`,
          ],
        },
        noPlain: true,
        notes: [],
      });
    }
  } finally {
    await fleet.stop();
    if (fresh) await server?.stop();
  }
  return out;
}
