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
  /** Set by {@link merge}: the last message the connection was sent, and its epoch. */
  private sent: StreamPosition | undefined;

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
    this.sent = { offset: last, epoch: position.epoch };
    return frames;
  }

  /** Whether {@link merge} has run: live messages then go through {@link follow}. */
  get merged(): boolean {
    return this.sent !== undefined;
  }

  /**
   * Whether the room's sequencer, at `position`, has yet to deliver messages that the merge
   * sent: the store answered ahead of this instance's bus, whose copies of them are still on
   * the way. Until the sequencer passes them, live messages go through {@link follow}.
   */
  ahead(position: StreamPosition | undefined): boolean {
    const sent = this.sent;
    return (
      sent !== undefined &&
      position !== undefined &&
      position.epoch === sent.epoch &&
      position.offset < sent.offset
    );
  }

  /**
   * A live message after the merge, while {@link ahead}: `skip` one the connection was sent
   * already, `reached` the last of those, `send` the first it lacks (the stream moved past, or
   * to another epoch). After `reached` or `send` the connection is caught up.
   */
  follow(message: SequencedMessage): 'skip' | 'reached' | 'send' {
    const sent = this.sent;
    if (!sent || message.epoch !== sent.epoch || message.offset > sent.offset)
      return 'send';
    return message.offset === sent.offset ? 'reached' : 'skip';
  }
}
