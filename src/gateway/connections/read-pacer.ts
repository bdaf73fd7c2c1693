import type { WebSocket } from 'ws';

/**
 * Bytes of messages one connection may have handled within one turn of the event loop before
 * its socket pauses until the next turn. Node reads a socket in chunks of 64 KiB, up to 32 of
 * them in one turn, and `ws` hands over every message they complete at once: without a pause,
 * one client could make the server parse 2 MiB of frames before anyone else is served.
 */
export const READ_BYTES_PER_TURN = 64 * 1024;

/** What the pacer keeps on each connection: its bytes handled in the turn it last saw. */
export interface PacedReader {
  readTurn: number;
  readBytes: number;
}

/**
 * Turn-by-turn fairness between connections: a connection past {@link READ_BYTES_PER_TURN} in
 * one turn reads nothing more until the next, so the others, the heartbeats and the HTTP
 * endpoints get the event loop between its heavy frames. A connection that sends little never
 * pauses; one timer-free `setImmediate` per turn marks the turns.
 */
export class ReadPacer {
  private turn = 0;
  private scheduled = false;
  private paused: WebSocket[] = [];

  /** Counts a message of `bytes` from `socket`; pauses the socket when it has had its share. */
  handled(reader: PacedReader, socket: WebSocket, bytes: number): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.nextTurn);
    }
    if (reader.readTurn !== this.turn) {
      reader.readTurn = this.turn;
      reader.readBytes = 0;
    }
    reader.readBytes += bytes;
    if (reader.readBytes >= READ_BYTES_PER_TURN && !socket.isPaused) {
      socket.pause();
      this.paused.push(socket);
    }
  }

  private readonly nextTurn = (): void => {
    this.scheduled = false;
    this.turn++;
    if (this.paused.length === 0) return;
    // Resumed from here, what a paused socket has buffered would be handed over in this same
    // check phase, before any other socket is read again: resume after the next poll phase.
    setImmediate(resumeAll, this.paused);
    this.paused = [];
  };
}

function resumeAll(sockets: WebSocket[]): void {
  // resume() on a socket closed meanwhile does nothing.
  for (const socket of sockets) socket.resume();
}
