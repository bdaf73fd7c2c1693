import { type WebSocket, WebSocketServer } from 'ws';
import type { GatewayClient } from '../../src/client/index.js';

/**
 * The gateway's side of the protocol, scripted by each test: a real `ws` server on a free port
 * that hands every connection the client opens to the test as a {@link Peer}, which sees the
 * frames the client sent in order and answers them by hand (docs/protocol.md). For the client's
 * unit specs over a real socket; against the real gateway it is test/client.e2e-spec.ts. For
 * `nextEvent`, see client-events.ts.
 */

/** A frame the client sent. */
export interface Received {
  event: string;
  data?: any;
  id?: number;
}

/** How long the harness waits for a frame, a connection or a condition before failing. */
export const WAIT_MS = 2_000;

/** One connection, seen from the server: the frames the client sent, in order. */
export class Peer {
  private readonly frames: Received[] = [];
  private readonly waiting: Array<(frame: Received) => void> = [];

  constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: Buffer) => {
      const frame = JSON.parse(raw.toString()) as Received;
      const waiter = this.waiting.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
  }

  /** The next frame the client sends. */
  next(): Promise<Received> {
    const frame = this.frames.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('no frame from the client')),
        WAIT_MS,
      );
      this.waiting.push((next) => {
        clearTimeout(timer);
        resolve(next);
      });
    });
  }

  send(frame: object): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** A `message` push of `room` at `offset`. */
  push(room: string, offset: number): void {
    this.send({
      event: 'message',
      data: { room, from: 'other', data: `${room}${offset}`, offset },
    });
  }

  /** A `presence` push. */
  presence(data: object): void {
    this.send({ event: 'presence', data });
  }

  reply(request: Received, data: unknown): void {
    this.send({ event: request.event, data, id: request.id });
  }

  error(request: Received, code: string, message = 'no'): void {
    this.send({ event: 'error', data: { code, message }, id: request.id });
  }

  /** Answers the next `join` with this position. */
  async acceptJoin(offset?: number, epoch = 'e1'): Promise<Received> {
    const join = await this.next();
    expect(join.event).toBe('join');
    const room = (join.data as { room: string }).room;
    this.reply(join, offset === undefined ? { room } : { room, offset, epoch });
    return join;
  }
}

/** A server that hands each new connection to the test. */
export class ScriptedServer {
  private readonly peers: Peer[] = [];
  private readonly waiting: Array<(peer: Peer) => void> = [];

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (socket) => {
      const peer = new Peer(socket);
      const waiter = this.waiting.shift();
      if (waiter) waiter(peer);
      else this.peers.push(peer);
    });
  }

  static async start(): Promise<ScriptedServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    return new ScriptedServer(wss);
  }

  get url(): string {
    const { port } = this.wss.address() as { port: number };
    return `ws://127.0.0.1:${port}/`;
  }

  /** The next connection the client opens. */
  nextPeer(): Promise<Peer> {
    const peer = this.peers.shift();
    if (peer) return Promise.resolve(peer);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('no connection')),
        WAIT_MS,
      );
      this.waiting.push((next) => {
        clearTimeout(timer);
        resolve(next);
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.wss.clients) socket.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

/** Resolves once `check` holds, re-checking as the event loop turns; fails after WAIT_MS. */
export async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * A round trip: every frame `client` sent before it has reached `peer`, none is left (an `echo`
 * the peer answers).
 */
export async function barrier(
  client: GatewayClient,
  peer: Peer,
): Promise<void> {
  const echo = client.request('echo', 'barrier');
  const frame = await peer.next();
  expect(frame).toMatchObject({ event: 'echo', data: 'barrier' });
  peer.reply(frame, 'barrier');
  await echo;
}
