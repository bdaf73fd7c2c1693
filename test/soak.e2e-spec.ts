import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
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

describe('connect/disconnect soak (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: { rateLimit: { perSecond: 1_000, burst: 1_000 } },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  /** One client's life: open, join a room, publish, echo, close. */
  async function cycle(i: number): Promise<void> {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    await client.request('join', { room: `soak-${i % 20}` }, 'j');
    await client.request('publish', { room: `soak-${i % 20}`, data: i }, 'p');
    await client.request('echo', i, 'e');
    // Pushes from other clients' publishes may have arrived; closing drops them.
    if (i % 3 === 0) client.socket.terminate();
    else await client.close();
  }

  async function soak(cycles: number, concurrency: number): Promise<void> {
    for (let start = 0; start < cycles; start += concurrency) {
      const batch = Array.from(
        { length: Math.min(concurrency, cycles - start) },
        (_, k) => cycle(start + k),
      );
      await Promise.all(batch);
    }
  }

  it('leaves no connection, room or heap growth behind after 3,000 cycles', async () => {
    const registry = gateway.app.get(ConnectionRegistry);
    const rooms = gateway.app.get(RoomsService);
    // Warm up: JIT, pools and caches reach their steady size before the baseline is taken.
    await soak(300, 50);
    await eventually(
      () => registry.size === 0 && rooms.roomCount === 0,
      'the warm-up to drain',
    );
    const before = liveHeap();

    await soak(3_000, 50);
    await eventually(
      () => registry.size === 0,
      'every connection to be unregistered',
      10_000,
    );
    expect(rooms.roomCount).toBe(0);
    const growth = liveHeap() - before;
    // A leak of even 1 KiB per cycle would be 3 MB; the bound leaves room for heap noise only.
    expect(growth).toBeLessThan(2 * 1024 * 1024);
  }, 120_000);
});
