import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** `ws` keeps the TCP socket private; corking it is the one thing this module needs from it. */
type WithRawSocket = WebSocket & { _socket?: Socket | null };

/**
 * Batches the frames a connection is sent within one turn of the event loop into one write:
 * the first frame corks the TCP socket, and one `setImmediate` uncorks every socket corked in
 * that turn. A client with 32 requests in flight gets its 32 replies in one `writev` instead of
 * 32, and a broadcast burst reaches each socket in one write. The delay is the rest of the
 * current turn: microseconds, not a timer.
 */
export class WriteCoalescer {
  private held: Socket[] = [];
  private scheduled = false;
  /**
   * Advances each time held sockets are uncorked. A connection that saw another value at its
   * previous write is writing in a new turn: what its socket still buffers then is what the
   * kernel did not take since, not this turn's burst.
   */
  turn = 0;

  /** Corks the socket under `ws` until the end of this turn, once per turn. */
  hold(ws: WebSocket): void {
    const socket = (ws as WithRawSocket)._socket;
    if (!socket || socket.writableCorked > 0) return;
    socket.cork();
    this.held.push(socket);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.turn++;
    const held = this.held;
    this.held = [];
    // uncork() on a socket destroyed meanwhile is a no-op.
    for (const socket of held) socket.uncork();
  };
}
