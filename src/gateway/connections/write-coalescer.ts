import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** `ws` keeps the TCP socket private; corking it is the one thing this module needs from it. */
type WithRawSocket = WebSocket & { _socket?: Socket | null };

/**
 * Sockets held at once within a turn: when one more is about to be held, these are written out
 * without waiting for the end of the turn. Of 8, 16, 32 and no bound, 32 was the one that made 100
 * connections with one request in flight cheaper without making 1,000 dearer
 * (docs/performance.md).
 */
export const HELD_SOCKETS_MAX = 32;

/**
 * Batches the frames the server writes within one turn of the event loop. A frame corks its
 * connection's TCP socket; the held sockets are uncorked together before one more than
 * {@link HELD_SOCKETS_MAX} would be held, and at the end of the turn (one `setImmediate`),
 * whichever comes first.
 *
 * Why hold at all: a client waiting for its replies sleeps, and the kernel wakes it up (an
 * interrupt to its core) for the first segment that reaches it; replies written one by one, as
 * each request is handled, wake it once per reply, and handing them over a few dozen at a time
 * wakes it once per batch. A client with 32 requests in flight, or a socket in a broadcast burst,
 * gets its frames of the turn in one write. Why not until the end of the turn: with a thousand
 * connections ready in one turn, the client would get nothing until the server had handled every
 * one of them, and the two would take turns working instead of working at once. A held frame
 * waits for at most 31 other sockets' writes or the end of the turn: microseconds, never a timer.
 */
export class WriteCoalescer {
  private held: Socket[] = [];
  private scheduled = false;
  /**
   * Advances at the end of each turn in which something was written. A connection that saw
   * another value at its previous write is writing in a new turn: what its socket still buffers
   * then is what the kernel did not take since, not this turn's frames.
   */
  turn = 0;

  /**
   * Corks the socket under `ws` for the frame about to be written to it (a call on a corked
   * socket does nothing more), until the held sockets are released.
   */
  hold(ws: WebSocket): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    const socket = (ws as WithRawSocket)._socket;
    if (!socket || socket.writableCorked > 0) return;
    // Released when the next socket comes rather than when the batch fills: a held socket's
    // frames until then (a burst's) go out with it, in one write.
    if (this.held.length >= HELD_SOCKETS_MAX) this.release();
    socket.cork();
    this.held.push(socket);
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    // uncork() on a socket destroyed meanwhile is a no-op.
    for (const socket of held) socket.uncork();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.turn++;
    if (this.held.length > 0) this.release();
  };
}
