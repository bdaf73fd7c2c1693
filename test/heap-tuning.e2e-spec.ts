import { rawHandshake } from './support/raw-client.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { connect, type TestClient } from './support/ws-client.js';

const TOKEN = 'heap-tuning-token-abcdef';
/** Connections held together first: enough for V8 to see a per-connection literal survive. */
const HELD = 800;
/**
 * Short connections afterwards: `SETTLE` first, not counted (the first collections after the
 * closes copy what the held connections left), then `CYCLES` counted: a young-generation
 * collection comes every 700 to 1,000 of them.
 */
const SETTLE = 1_500;
const CYCLES = 4_000;
/** Handshakes in flight at once, in both phases. */
const LANES = 16;
/** What each held connection echoes: garbage for the server to collect while they are open. */
const PAD = 'x'.repeat(8_000);
/** Echoes per held connection at most, waiting for a young-generation collection. */
const MAX_ECHO_ROUNDS = 50;

/** Runs `task` `count` times, at most `lanes` of them at once. */
async function inLanes(
  count: number,
  lanes: number,
  task: () => Promise<void>,
): Promise<void> {
  let started = 0;
  const lane = async () => {
    while (started++ < count) await task();
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/** Young-generation collections in `--trace-gc-nvp` output. */
function scavenges(output: string): number {
  return output.match(/gc=s /g)?.length ?? 0;
}

/** Bytes the young-generation collections promoted, from `--trace-gc-nvp` lines. */
function promotedBytes(output: string): number {
  let total = 0;
  for (const match of output.matchAll(/gc=s .*?\bpromoted=(\d+)/g))
    total += Number(match[1]);
  return total;
}

/**
 * What each short connection leaves to the old generation, once `HELD` connections have been
 * open together and closed: bytes promoted by scavenges per handshake, counted by V8 itself.
 */
async function promotedPerHandshake(nodeArgs: string[]): Promise<number> {
  const gateway: SpawnedGateway = await spawnGateway({ AUTH_TOKENS: TOKEN }, [
    '--trace-gc-nvp',
    ...nodeArgs,
  ]);
  try {
    const url = `ws://127.0.0.1:${gateway.port}/`;
    const held: TestClient[] = [];
    await inLanes(HELD, LANES, async () => {
      held.push(await connect(url, { token: TOKEN }));
    });
    // V8 decides to pretenure a site at a young-generation collection that finds nearly all of
    // the site's recent objects alive. One comes every 700 to 1,000 handshakes, so whether one
    // came while all the connections were open was a matter of timing: the held connections
    // echo until one has.
    const allHeld = gateway.output().length;
    for (
      let round = 0;
      scavenges(gateway.output().slice(allHeld)) === 0;
      round++
    ) {
      if (round === MAX_ECHO_ROUNDS)
        throw new Error(
          'no young-generation collection while connections were held',
        );
      await Promise.all(held.map((client) => client.request('echo', PAD)));
    }
    await Promise.all(held.map((client) => client.close()));

    const cycle = async () => {
      const { client } = await rawHandshake(url, { token: TOKEN });
      if (!client) throw new Error('the handshake was refused');
      client.close(1000);
      await client.closed;
    };
    await inLanes(SETTLE, LANES, cycle);
    const before = gateway.output().length;
    await inLanes(CYCLES, LANES, cycle);
    return promotedBytes(gateway.output().slice(before)) / CYCLES;
  } finally {
    await gateway.stop();
  }
}

// The service turns V8's allocation-site pretenuring off (src/heap-tuning.ts): with it on, once a
// few hundred connections had stayed open together, every later connection's objects were kept
// for a full collection, and each short connection promoted about 3,600 bytes instead of 900.
describe('the heap of the service under connection churn (e2e)', () => {
  it('after many connections held together, short connections still die young', async () => {
    expect(await promotedPerHandshake([])).toBeLessThan(2_000);
  }, 60_000);

  it('the command line keeps V8 pretenuring on if it asks, and then they do not', async () => {
    expect(
      await promotedPerHandshake(['--allocation-site-pretenuring']),
    ).toBeGreaterThan(2_500);
  }, 60_000);
});
