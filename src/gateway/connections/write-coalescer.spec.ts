import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { GATEWAY_DEFAULTS } from '../gateway.options.js';
import { ClientConnection } from './connection.js';
import { ErrorJournal } from './error-journal.js';
import { TrafficStats } from './traffic-stats.js';
import { WriteCoalescer } from './write-coalescer.js';

/** The TCP socket under a server-side `ws` socket, whose cork state the coalescer drives. */
const corked = (ws: WebSocket) =>
  (ws as unknown as { _socket: { writableCorked: number } })._socket
    .writableCorked;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteCoalescer with ClientConnection, on a real socket pair', () => {
  let server: WebSocketServer | undefined;
  let client: WebSocket | undefined;

  afterEach(async () => {
    client?.terminate();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function pair(): Promise<{
    connection: ClientConnection;
    socket: WebSocket;
    writes: WriteCoalescer;
    received: string[];
  }> {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server!.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const accepted = new Promise<WebSocket>((resolve) =>
      server!.once('connection', resolve),
    );
    client = new WebSocket(`ws://127.0.0.1:${port}`);
    const received: string[] = [];
    client.on('message', (data) => received.push(String(data)));
    await new Promise((resolve) => client!.once('open', resolve));
    const socket = await accepted;
    const writes = new WriteCoalescer();
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
    return { connection, socket, writes, received };
  }

  it('sends a turn’s first frame at once and corks the rest until the end of the turn', async () => {
    const { connection, socket, writes, received } = await pair();
    const turn = writes.turn;
    expect(connection.send('one', 'echo')).toBe(true);
    // Handed to the kernel already: nothing waits in the stream.
    expect(corked(socket)).toBe(0);
    expect(socket.bufferedAmount).toBe(0);
    connection.send('two', 'echo');
    connection.send('three', 'echo');
    expect(corked(socket)).toBe(1);
    await nextTurn();
    expect(corked(socket)).toBe(0);
    expect(writes.turn).toBe(turn + 1);
    await expect.poll(() => received).toEqual(['one', 'two', 'three']);
  });

  it('corks from the first frame after a turn of several, and sends at once again after a turn of one', async () => {
    const { connection, socket, received } = await pair();
    connection.send('a', 'echo');
    connection.send('b', 'echo');
    await nextTurn();
    // The last turn was a burst: this one's first frame waits for the end of the turn too.
    connection.send('c', 'echo');
    expect(corked(socket)).toBe(1);
    await nextTurn();
    expect(corked(socket)).toBe(0);
    // The last turn had one frame: this one's goes out at once.
    connection.send('d', 'echo');
    expect(corked(socket)).toBe(0);
    await expect.poll(() => received).toEqual(['a', 'b', 'c', 'd']);
  });

  it('advances the turn even when no socket was corked in it', async () => {
    const { connection, writes } = await pair();
    const turn = writes.turn;
    connection.send('only', 'echo');
    await nextTurn();
    expect(writes.turn).toBe(turn + 1);
  });
});
