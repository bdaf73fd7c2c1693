import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { SocketPairs } from '../../../test/support/socket-pairs.js';
import { GATEWAY_DEFAULTS } from '../gateway.options.js';
import { ClientConnection } from './connection.js';
import { ErrorJournal } from './error-journal.js';
import { TrafficStats } from './traffic-stats.js';
import { HELD_SOCKETS_MAX, WriteCoalescer } from './write-coalescer.js';

/** The TCP socket under a server-side `ws` socket, whose cork state the coalescer drives. */
const corked = (ws: WebSocket) =>
  (ws as unknown as { _socket: { writableCorked: number } })._socket
    .writableCorked;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteCoalescer with ClientConnection, on a real socket pair', () => {
  const pairs = new SocketPairs();

  afterEach(() => pairs.close());

  /** A real client and the server's connection record of it, writing through `writes`. */
  async function connect(writes: WriteCoalescer): Promise<{
    connection: ClientConnection;
    socket: WebSocket;
    received: string[];
  }> {
    const { socket, received } = await pairs.open();
    const connection = new ClientConnection(
      'inst-1',
      socket,
      { subject: 'alice', scopes: [] },
      '127.0.0.1',
      {
        traffic: new TrafficStats(),
        errors: new ErrorJournal(),
        writes,
        maxBufferedBytes: 1 << 20,
        rateLimit: GATEWAY_DEFAULTS.rateLimit,
        closeGraceMs: 1000,
      },
    );
    return { connection, socket, received };
  }

  async function pair() {
    const writes = new WriteCoalescer();
    return { writes, ...(await connect(writes)) };
  }

  it('holds every frame of a turn, and writes them together at its end', async () => {
    const { connection, socket, writes, received } = await pair();
    const turn = writes.turn;
    expect(connection.send('one', 'echo')).toBe(true);
    // The first frame waits with the rest of the turn's.
    expect(corked(socket)).toBe(1);
    connection.send('two', 'echo');
    connection.send('three', 'echo');
    expect(corked(socket)).toBe(1);
    await nextTurn();
    expect(corked(socket)).toBe(0);
    expect(writes.turn).toBe(turn + 1);
    await expect.poll(() => received).toEqual(['one', 'two', 'three']);
  });

  it(`writes ${HELD_SOCKETS_MAX} held sockets out within the turn when one more comes, each with all its frames`, async () => {
    const writes = new WriteCoalescer();
    const peers = [];
    for (let i = 0; i <= HELD_SOCKETS_MAX; i++)
      peers.push(await connect(writes));
    const turn = writes.turn;
    const held = peers.slice(0, -1);
    for (const [i, peer] of held.entries()) {
      peer.connection.send(`first ${i}`, 'echo');
      peer.connection.send(`second ${i}`, 'echo');
    }
    expect(held.map((peer) => corked(peer.socket))).toEqual(held.map(() => 1));
    const last = peers.at(-1)!;
    last.connection.send('after', 'echo');
    // The next socket released the batch, in this same turn, and is held itself.
    expect(held.map((peer) => corked(peer.socket))).toEqual(held.map(() => 0));
    expect(corked(last.socket)).toBe(1);
    expect(writes.turn).toBe(turn);
    await nextTurn();
    expect(corked(last.socket)).toBe(0);
    await expect.poll(() => last.received).toEqual(['after']);
    for (const [i, peer] of held.entries())
      await expect
        .poll(() => peer.received)
        .toEqual([`first ${i}`, `second ${i}`]);
  });

  it('advances the turn at the end of a turn something was written in', async () => {
    const { connection, writes } = await pair();
    const turn = writes.turn;
    connection.send('only', 'echo');
    await nextTurn();
    expect(writes.turn).toBe(turn + 1);
  });
});
