import type { SequencedMessage } from './room-sequencer.js';
import type { StoredMessage, StreamPosition } from './history-store.js';

/**
 * The live messages of a room that reach a connection while it joins (the store is being read
 * for its position or its missed messages), kept until the read answers, then merged with it so
 * that the connection gets every message after its position once and in order.
 */
export class CatchUp {
  private readonly live: SequencedMessage[] = [];
  private overflowed = false;

  constructor(
    private readonly connectionId: string,
    /** Most live messages kept; a room faster than that during one read fails the join. */
    private readonly limit: number,
  ) {}

  /** Keeps a live message for the merge (not the connection's own). */
  add(message: SequencedMessage): void {
    if (message.exceptId === this.connectionId) return;
    if (this.live.length >= this.limit) {
      this.overflowed = true;
      return;
    }
    this.live.push(message);
  }

  /** Whether live messages were lost because the read took too long. */
  get lost(): boolean {
    return this.overflowed;
  }

  /**
   * The frames to send, in order: `recovered` (the stored messages after the client's position,
   * up to `position`, or none) then the live ones after the last of them, none twice and none of
   * another epoch. Live messages come from the room's sequencer, so their offsets increase.
   */
  merge(
    position: StreamPosition,
    recovered: readonly StoredMessage[],
  ): string[] {
    const frames = recovered.map((message) => message.frame);
    let last = position.offset;
    for (const message of this.live) {
      if (message.epoch !== position.epoch || message.offset <= last) continue;
      frames.push(message.frame);
      last = message.offset;
    }
    return frames;
  }
}
