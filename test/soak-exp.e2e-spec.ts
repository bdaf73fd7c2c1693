import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { RoomsService } from '../src/gateway/rooms/rooms.service.js';
import { HISTORY_STORE } from '../src/gateway/history/history-store.js';
import { eventually } from './support/eventually.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function liveHeap(): number { gc(); gc(); return process.memoryUsage().heapUsed; }

describe.each([
  ['off', { size: 0 }],
  ['default', {}],
  ['capped', { memoryBytes: 64 * 1024 }],
])('soak %s', (_, history) => {
  let gateway: RunningApp;
  beforeAll(async () => {
    gateway = await startApp({ gateway: { rateLimit: { perSecond: 1_000, burst: 1_000 }, history } });
  });
  afterAll(async () => { await gateway.close(); });
  async function cycle(i: number) {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    await client.request('join', { room: `soak-${i % 20}` }, 'j');
    await client.request('publish', { room: `soak-${i % 20}`, data: i }, 'p');
    await client.request('echo', i, 'e');
    if (i % 3 === 0) client.socket.terminate(); else await client.close();
  }
  async function soak(cycles: number, concurrency: number) {
    for (let start = 0; start < cycles; start += concurrency) {
      await Promise.all(Array.from({ length: Math.min(concurrency, cycles - start) }, (_, k) => cycle(start + k)));
    }
  }
  it('runs', async () => {
    const registry = gateway.app.get(ConnectionRegistry);
    const rooms = gateway.app.get(RoomsService);
    const store = gateway.app.get(HISTORY_STORE) as { stats: unknown };
    await soak(300, 50);
    await eventually(() => registry.size === 0 && rooms.roomCount === 0, 'drain');
    const before = liveHeap();
    const s0 = JSON.stringify(store.stats);
    const N = Number(process.env.N ?? 3000);
    await soak(N, 50);
    await eventually(() => registry.size === 0, 'unreg', 10_000);
    const growth = liveHeap() - before;
    console.log(_, 'N', N, 'growth', growth, 'per cycle', (growth / N).toFixed(1), s0, JSON.stringify(store.stats), rooms.roomCount);
  }, 300_000);
});
