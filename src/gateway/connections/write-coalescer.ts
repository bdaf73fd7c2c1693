import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** `ws` keeps the TCP socket private; corking it is the one thing this module needs from it. */
type WithRawSocket = WebSocket & { _socket?: Socket | null };

/**
 * Batches the frames a connection is sent within one turn of the event loop. A connection's
 * first frame of a turn goes out at once (a client waiting for one reply gets it without waiting
 * for the rest of the turn, and the server makes no extra call for it), unless the connection got
 * more than one frame in the last turn it was written in; a second frame corks the TCP socket;
 * one `setImmediate` uncorks every socket corked in the turn. A client with 32 requests in flight
 * gets its 32 replies in one write instead of 32 (two, the first time), as does a socket in a
 * broadcast burst; a client with one request in flight gets each reply at once. The delay of a
 * corked frame is the rest of the current turn: microseconds, not a timer.
 */
export class WriteCoalescer {
  private held: Socket[] = [];
  private scheduled = false;
  /**
   * Advances at the end of each turn in which something was written. A connection that saw
   * another value at its previous write is writing in a new turn: what its socket still buffers
   * then is what the kernel did not take since, not this turn's burst.
   */
  turn = 0;

  /** A connection's first frame of this turn: the turn will end (and uncork what it corked). */
  first(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Corks the socket under `ws` until the end of this turn, for the frames that follow within it
   * (a call on a corked socket is a no-op).
   */
  hold(ws: WebSocket): void {
    const socket = (ws as WithRawSocket)._socket;
    if (!socket || socket.writableCorked > 0) return;
    socket.cork();
    this.held.push(socket);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.turn++;
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    // uncork() on a socket destroyed meanwhile is a no-op.
    for (const socket of held) socket.uncork();
  };
}
