import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { HistoryReply } from '../src/protocol/frames.js';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { HISTORY_STORE } from '../src/gateway/history/history-store.js';
import { InMemoryHistoryStore } from '../src/gateway/history/in-memory-history-store.js';
import type { GatewayHistoryOptions } from '../src/gateway/gateway.options.js';
import { RoomsService } from '../src/gateway/rooms/rooms.service.js';
import { eventually } from './support/eventually.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

// A real collection before each heap reading, so the comparison is of live objects only.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The rooms the cycles take turns in. */
const ROOMS = 20;
const WARM_UP = 300;
const CYCLES = 3_000;
/** A leak of even 1 KiB per cycle would be 3 MB; the bound leaves room for heap noise only. */
const HEAP_BOUND = 2 * 1024 * 1024;

describe('connect/disconnect soak (e2e)', () => {
  let gateway: RunningApp | undefined;

  async function start(history: GatewayHistoryOptions): Promise<RunningApp> {
    gateway = await startApp({
      gateway: { rateLimit: { perSecond: 1_000, burst: 1_000 }, history },
    });
    return gateway;
  }
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  /** One client's life: open, join a room, publish, echo, close. */
  async function cycle(app: RunningApp, i: number): Promise<void> {
    const client = await connect(app.wsUrl, { token: TEST_TOKEN });
    await client.request('join', { room: `soak-${i % ROOMS}` }, 'j');
    await client.request(
      'publish',
      { room: `soak-${i % ROOMS}`, data: i },
      'p',
    );
    await client.request('echo', i, 'e');
    // Pushes from other clients' publishes may have arrived; closing drops them.
    if (i % 3 === 0) client.socket.terminate();
    else await client.close();
  }

  async function soak(
    app: RunningApp,
    cycles: number,
    concurrency: number,
  ): Promise<void> {
    for (let start = 0; start < cycles; start += concurrency) {
      const batch = Array.from(
        { length: Math.min(concurrency, cycles - start) },
        (_, k) => cycle(app, start + k),
      );
      await Promise.all(batch);
    }
  }

  /**
   * Warms up, then runs the soak and checks that every connection and room went; resolves with
   * how much the live heap grew over the soak.
   */
  async function soakAndMeasure(app: RunningApp): Promise<number> {
    const registry = app.app.get(ConnectionRegistry);
    const rooms = app.app.get(RoomsService);
    // Warm up: JIT, pools and caches reach their steady size before the baseline is taken.
    await soak(app, WARM_UP, 50);
    await eventually(
      () => registry.size === 0 && rooms.roomCount === 0,
      'the warm-up to drain',
    );
    const before = liveHeap();

    await soak(app, CYCLES, 50);
    await eventually(
      () => registry.size === 0,
      'every connection to be unregistered',
      10_000,
    );
    // Rooms with history included: their sequencers and catch-ups went with their last member.
    expect(rooms.roomCount).toBe(0);
    return liveHeap() - before;
  }

  const storeOf = (app: RunningApp) => {
    const store = app.app.get<unknown>(HISTORY_STORE);
    expect(store).toBeInstanceOf(InMemoryHistoryStore);
    return store as InMemoryHistoryStore;
  };

  it('leaves no connection, room or heap growth behind after 3,000 cycles (rooms without history)', async () => {
    // History kept for its ttl (5 minutes) is not a leak; here nothing is kept, so what the
    // soak leaves behind is the bookkeeping of connections and rooms alone.
    const app = await start({ size: 0 });
    const growth = await soakAndMeasure(app);
    expect(growth).toBeLessThan(HEAP_BOUND);
    expect(storeOf(app).stats).toEqual({ rooms: 0, messages: 0, bytes: 0 });
  }, 120_000);

  it('with history at its memory cap: no heap growth after 3,000 cycles, every room numbered through all of them', async () => {
    // The warm-up alone publishes more than the cap holds: from then on each message kept
    // evicts the oldest, and history costs no more memory than it did at the baseline.
    const cap = 64 * 1024;
    const app = await start({ memoryBytes: cap });
    const store = storeOf(app);
    const growth = await soakAndMeasure(app);
    expect(growth).toBeLessThan(HEAP_BOUND);
    const { rooms, messages, bytes } = store.stats;
    // One stream per room used, kept for its ttl: none for the thousands of connections.
    expect(rooms).toBe(ROOMS);
    expect(bytes).toBeLessThanOrEqual(cap);
    expect(messages).toBeGreaterThan(0);
    // Fewer than the warm-up alone published: the cap, not the rooms' size, decided.
    expect(messages).toBeLessThan(WARM_UP);

    // Each room's newest messages are kept, consecutive up to its last offset, which counts
    // every publish to the room, warm-up and soak.
    const reader = await connect(app.wsUrl, { token: TEST_TOKEN });
    let kept = 0;
    for (let r = 0; r < ROOMS; r++) {
      const room = `soak-${r}`;
      const reply = (await reader.request('history', { room }, r))
        .data as HistoryReply<number>;
      const top = (WARM_UP + CYCLES) / ROOMS;
      expect(reply).toMatchObject({ room, offset: top });
      const offsets = reply.messages.map((m) => m.offset);
      expect(offsets.length).toBeGreaterThan(0);
      expect(offsets).toEqual(
        Array.from(
          { length: offsets.length },
          (_, k) => top - offsets.length + 1 + k,
        ),
      );
      for (const message of reply.messages) {
        expect(message.room).toBe(room);
        expect(message.data % ROOMS).toBe(r);
      }
      kept += offsets.length;
    }
    expect(kept).toBe(messages);
    await reader.close();
  }, 120_000);
});
