import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** `ws` keeps the TCP socket private; corking it is the one thing this module needs from it. */
type WithRawSocket = WebSocket & { _socket?: Socket | null };

/**
 * Batches the frames a connection is sent within one turn of the event loop, from its second
 * frame on: the first goes out at once (a client waiting for one reply gets it without waiting for
 * the rest of the turn, and the server makes no extra call for it), the second corks the TCP
 * socket, and one `setImmediate` uncorks every socket corked in that turn. A client with 32
 * requests in flight gets its 32 replies in two writes instead of 32, and a broadcast burst
 * reaches each socket in two. The delay of a corked frame is the rest of the current turn:
 * microseconds, not a timer.
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

  /** A connection's first frame of this turn: it goes out at once, and the turn will end. */
  first(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * A further frame to the socket under `ws` within this turn: the socket stays corked until the
   * end of the turn (the call after the first in a turn is a no-op).
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
