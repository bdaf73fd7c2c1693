import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** A real client and the server's side of its socket. */
export interface SocketPair {
  /** The server's side, as the gateway's connection records hold it. */
  socket: WebSocket;
  /** The client. */
  peer: WebSocket;
  /** Every frame the client has received, as text, in order. */
  received: string[];
}

/**
 * A bare `ws` server on a free local port that hands out real socket pairs, for tests of what
 * the gateway does with a server-side socket without starting the gateway. `close()` ends every
 * pair and the server (an `afterEach`).
 */
export class SocketPairs {
  private server?: WebSocketServer;
  private port = 0;
  private readonly peers: WebSocket[] = [];

  /** A new connected pair; the server starts at the first. */
  async open(): Promise<SocketPair> {
    if (!this.server) {
      const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      await new Promise((resolve) => server.once('listening', resolve));
      this.server = server;
      this.port = (server.address() as AddressInfo).port;
    }
    const accepted = new Promise<WebSocket>((resolve) =>
      this.server!.once('connection', resolve),
    );
    const peer = new WebSocket(`ws://127.0.0.1:${this.port}`);
    this.peers.push(peer);
    const received: string[] = [];
    // A Buffer: the client's default binaryType, and the server sends unfragmented frames.
    peer.on('message', (data) => received.push((data as Buffer).toString()));
    await new Promise((resolve) => peer.once('open', resolve));
    return { socket: await accepted, peer, received };
  }

  async close(): Promise<void> {
    for (const peer of this.peers.splice(0)) peer.terminate();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
