import type { StoredMessage, StreamPosition } from './history-store.js';

/** A room message with its place in the room's stream, on its way to local members. */
export interface SequencedMessage extends StreamPosition {
  /** The push as clients receive it. */
  frame: string;
  /** The connection that must not receive it (its sender). */
  exceptId?: string;
}

/** What a {@link RoomSequencer} needs from its room. */
export interface SequencerHooks {
  /** Hands a message to the room's local members, in offset order, once. */
  deliver(message: SequencedMessage): void;
  /**
   * Kept messages of `epoch` after `after`, at most `limit`, to close a gap; undefined when the
   * store cannot be read or is in another epoch.
   */
  fill(
    epoch: string,
    after: number,
    limit: number,
  ): Promise<readonly StoredMessage[] | undefined>;
}

/** How long a sequencer waits for a missing message before reading it from the store. */
export const GAP_WAIT_MS = 250;

/**
 * Puts one room's messages in offset order at one instance. They come by two ways that can
 * overtake each other: the instance's own publishes (when the store's append returns) and the
 * other instances' (from the bus). A message that comes early is held until those before it
 * arrive; a duplicate (a message already delivered) is dropped. A gap that stays open for
 * {@link GAP_WAIT_MS} (a bus message lost while the bus reconnected) is read from the store;
 * when even the store no longer has it, delivery moves on past it, and clients see the jump in
 * offsets and re-synchronize by recovery.
 *
 * Until {@link start} gives it the room's position, it only holds what comes.
 */
export class RoomSequencer {
  private epoch: string | undefined;
  /** The offset due next; 0 before {@link start}. */
  private next = 0;
  private readonly held = new Map<number, SequencedMessage>();
  private gapTimer: NodeJS.Timeout | undefined;
  private filling = false;
  private stopped = false;

  constructor(
    private readonly hooks: SequencerHooks,
    /** Most messages held at once (and read to fill one gap); past it the oldest go. */
    private readonly maxHeld: number,
  ) {}

  /** Whether the room's position is known, so that messages flow. */
  get started(): boolean {
    return this.next > 0;
  }

  /** The last offset delivered, in its epoch; undefined before {@link start}. */
  get position(): StreamPosition | undefined {
    return this.epoch === undefined
      ? undefined
      : { offset: this.next - 1, epoch: this.epoch };
  }

  /**
   * Starts delivery after `position`, or from the oldest message held of its epoch when that is
   * older: members that joined while the store was away (without a position) then get what
   * reached the instance meanwhile, and those catching up drop what is before their own.
   */
  start(position: StreamPosition): void {
    if (this.started || this.stopped) return;
    this.epoch = position.epoch;
    let after = position.offset;
    for (const [offset, message] of this.held)
      if (message.epoch === position.epoch && offset - 1 < after)
        after = offset - 1;
    this.next = after + 1;
    for (const [offset, message] of this.held)
      if (offset < this.next || message.epoch !== this.epoch)
        this.held.delete(offset);
    this.drain();
    this.watchGap();
  }

  /** Takes a message from either way; delivers it when its turn comes. */
  accept(message: SequencedMessage): void {
    if (this.stopped) return;
    if (!this.started) {
      this.hold(message);
      return;
    }
    if (message.epoch !== this.epoch) {
      // The stream was lost and started again (Redis flushed, expired): count from its start.
      this.epoch = message.epoch;
      this.next = 1;
      this.held.clear();
    }
    if (message.offset < this.next) return;
    if (message.offset === this.next) {
      this.next++;
      this.hooks.deliver(message);
      this.drain();
    } else {
      this.hold(message);
    }
    this.watchGap();
  }

  /**
   * Reads what the store has after the last delivered offset and delivers it: after the bus
   * was away, messages of other instances may have been missed with no later one to show it.
   */
  async catchUp(): Promise<void> {
    if (!this.started || this.filling || this.stopped) return;
    const epoch = this.epoch as string;
    this.filling = true;
    try {
      const found = await this.hooks.fill(epoch, this.next - 1, this.maxHeld);
      for (const message of found ?? []) this.accept({ ...message, epoch });
    } finally {
      this.filling = false;
    }
  }

  /** Drops everything; nothing is delivered after. */
  stop(): void {
    this.stopped = true;
    this.held.clear();
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private hold(message: SequencedMessage): void {
    this.held.set(message.offset, message);
    if (this.held.size > this.maxHeld) this.held.delete(this.lowestHeld());
  }

  private drain(): void {
    let message = this.held.get(this.next);
    while (message !== undefined) {
      this.held.delete(this.next);
      this.next++;
      this.hooks.deliver(message);
      message = this.held.get(this.next);
    }
  }

  private lowestHeld(): number {
    let lowest = Infinity;
    for (const offset of this.held.keys()) if (offset < lowest) lowest = offset;
    return lowest;
  }

  private watchGap(): void {
    if (this.held.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer || this.filling) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      void this.fillGap();
    }, GAP_WAIT_MS);
    this.gapTimer.unref();
  }

  private async fillGap(): Promise<void> {
    if (this.held.size === 0 || this.stopped) return;
    const epoch = this.epoch as string;
    const missing = Math.min(this.lowestHeld() - this.next, this.maxHeld);
    this.filling = true;
    let found: readonly StoredMessage[] | undefined;
    try {
      found = await this.hooks.fill(epoch, this.next - 1, missing);
    } finally {
      this.filling = false;
    }
    if (this.stopped || epoch !== this.epoch) return;
    for (const message of found ?? [])
      if (message.offset === this.next) {
        this.next++;
        this.hooks.deliver({ ...message, epoch });
      }
    if (this.held.size > 0 && !this.held.has(this.next)) {
      // Not kept any more (or the store is away): move on; the jump tells clients to recover.
      this.next = this.lowestHeld();
    }
    this.drain();
    this.watchGap();
  }
}
