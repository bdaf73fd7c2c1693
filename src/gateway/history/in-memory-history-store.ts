import { randomBytes } from 'node:crypto';
import type { OnModuleDestroy } from '@nestjs/common';
import { roomChannel } from '../bus/channels.js';
import type { MessageBus } from '../bus/message-bus.js';
import {
  FRAME_TAIL,
  type Appended,
  type AppendRequest,
  type HistoryStore,
  type ReadRequest,
  type ReadResult,
  type Retention,
  type StoredMessage,
} from './history-store.js';

/**
 * Bytes counted for one kept message besides its frame, which counts `2 * frame.length`.
 *
 * Rationale, from a scratch measurement rather than a benchmark: on Node 20 (x64), filling a
 * store with 100,000 messages of ~100-character frames over 1,000 rooms, each ring at or past
 * its size as in steady state, grew `process.memoryUsage().heapUsed` (after `gc()`) by 115 to
 * 122 bytes a message beyond one byte per frame character, the same with 2,000-character frames:
 * the entry object and its boxed timestamp, its ring slot and the ring's spare capacity, and the
 * flattened frame's string header. Frames with a character beyond Latin-1 take two bytes per
 * character, which the factor 2 covers (such frames measured 2 bytes a character + 114). 128
 * rounds that up. An empty stream (a room read but never written) measured ~190 bytes and is not
 * counted: streams are bounded by their ttl, not by the cap.
 */
export const ENTRY_OVERHEAD = 128;

/** The sweep runs at least this often, so idle streams never linger more than this past ttl. */
const SWEEP_MAX_INTERVAL_MS = 60_000;
/**
 * ...and at most this often: a sweep visits every stream, and a tiny ttl must not turn it into a
 * busy loop. Reads and appends check expiry themselves, so a late sweep only frees memory late.
 */
const SWEEP_MIN_INTERVAL_MS = 1_000;

/** Options of {@link InMemoryHistoryStore}. */
export interface InMemoryHistoryOptions {
  /**
   * What all rooms' kept messages may cost together, in bytes, counting each message as
   * `2 * frame.length + ENTRY_OVERHEAD`: an estimate of heap use, not a measurement of it.
   */
  memoryBytes: number;
  /** The clock (ms since the epoch); `Date.now` unless a test drives time. */
  now?: () => number;
}

/** What {@link InMemoryHistoryStore.stats} reports. */
export interface InMemoryHistoryStats {
  /** Streams held, including empty ones a read created. */
  rooms: number;
  /** Messages kept, over all rooms. */
  messages: number;
  /** What the kept messages are counted as costing (see {@link InMemoryHistoryOptions}). */
  bytes: number;
}

/** One kept message: in its room's ring, and in the store's list of all messages by age. */
interface Entry {
  readonly offset: number;
  readonly frame: string;
  readonly at: number;
  readonly stream: Stream;
  older: Entry | undefined;
  newer: Entry | undefined;
}

/**
 * One life of a room's stream. Its kept messages are always the consecutive offsets up to `top`,
 * since every way of losing one (size, ttl, the memory cap) takes the oldest; so a message is
 * found by its offset in O(1).
 */
class Stream {
  /** 9 random bytes: 72 bits, in 12 characters that never contain `|` or a newline (bus codec). */
  readonly epoch = randomBytes(9).toString('base64url');
  top = 0;
  /**
   * When the stream was last active: its newest append, or for a stream never appended to, the
   * last time it was read. It outlives this by its ttl.
   */
  activeAt: number;
  /** The ttl it was last accessed with, for the sweep. */
  ttlMs: number;
  /** A queue rather than `shift()`, which copies the array: slots before `head` are spent. */
  private entries: Array<Entry | undefined> = [];
  private head = 0;

  constructor(now: number, ttlMs: number) {
    this.activeAt = now;
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  oldest(): Entry | undefined {
    return this.entries[this.head];
  }

  /** The kept message at `offset`, which must lie between the oldest kept and `top`. */
  at(offset: number): Entry {
    const oldest = this.entries[this.head] as Entry;
    return this.entries[this.head + offset - oldest.offset] as Entry;
  }

  push(entry: Entry): void {
    this.entries.push(entry);
  }

  shift(): Entry | undefined {
    const entry = this.entries[this.head];
    if (!entry) return undefined;
    this.entries[this.head++] = undefined;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head >= 32 && this.head * 2 >= this.entries.length) {
      // Copies at most as many entries as were shifted since the last copy: O(1) amortized, and
      // never more spent slots than kept ones.
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return entry;
  }
}

/**
 * The embedded {@link HistoryStore}: every room's stream in this process's memory, lost when it
 * stops (a restarted instance starts new epochs, so no client takes old offsets for new ones).
 *
 * Bounded three ways: per room by the `retention` of each call (at most `size` messages, none
 * older than `ttlMs`), and over all rooms by `memoryBytes`, beyond which the oldest messages of
 * the whole store go first, whichever rooms they are in. Streams idle for their ttl are deleted,
 * epoch and all, by a periodic sweep and whenever they are next used. Every append costs O(1)
 * amortized, however many rooms there are.
 */
export class InMemoryHistoryStore implements HistoryStore, OnModuleDestroy {
  private readonly streams = new Map<string, Stream>();
  /** All kept messages, oldest first, linked through their entries: eviction order. */
  private oldest: Entry | undefined;
  private newest: Entry | undefined;
  private messages = 0;
  private bytes = 0;
  private readonly memoryBytes: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private sweepIntervalMs = Infinity;
  private destroyed = false;

  constructor(
    private readonly bus: MessageBus,
    options: InMemoryHistoryOptions,
  ) {
    if (!(options.memoryBytes >= 0))
      throw new RangeError(
        `memoryBytes must be a number >= 0, not ${options.memoryBytes}`,
      );
    this.memoryBytes = options.memoryBytes;
    this.now = options.now ?? Date.now;
  }

  /** Streams, kept messages and what they are counted as costing, right now. */
  get stats(): InMemoryHistoryStats {
    return {
      rooms: this.streams.size,
      messages: this.messages,
      bytes: this.bytes,
    };
  }

  /**
   * Assigns the next offset, keeps the completed frame, and publishes it on the room's channel
   * before returning, so that on a synchronous bus every instance sees a room's messages in
   * offset order. Resolves once the bus has taken it.
   *
   * A message that alone costs more than `memoryBytes` takes its offset and is published, but
   * is not kept, and neither are its room's older messages: readers see the room's history
   * start after it, as if all were lost. Other rooms keep theirs.
   *
   * Rejects when the bus does; the message then stays in this instance's history, offset
   * spent, though no other instance received it.
   */
  append(request: AppendRequest): Promise<Appended> {
    const { room, retention } = request;
    const at = this.now();
    const stream = this.open(room, retention, at);
    const offset = ++stream.top;
    const frame = request.frameHead + offset + FRAME_TAIL;
    // V8 holds a concatenation as a tree of its pieces (frameHead itself may be one), which can
    // cost twice its text and more. Reading a character flattens it into one string, in place,
    // so what is kept costs what ENTRY_OVERHEAD assumes however frameHead was built; the first
    // send to a socket would flatten it anyway, so this copy is not an extra one.
    void frame.charCodeAt(0);
    stream.activeAt = at;
    if (cost(frame) > this.memoryBytes) {
      // Kept, it would be evicted at once, after every other message of every room (they are
      // older). Its own room's older messages go too: what is kept is always consecutive up to
      // top, and a reader is better told of the gap than handed a run that stops short of it.
      while (stream.size > 0) this.dropOldest(stream);
    } else {
      this.keep({
        offset,
        frame,
        at,
        stream,
        older: undefined,
        newer: undefined,
      });
      this.trim(stream, retention, at);
      while (this.bytes > this.memoryBytes && this.oldest)
        this.dropOldest(this.oldest.stream);
    }

    const { epoch } = stream;
    let published: Promise<number>;
    try {
      published = this.bus.publish(roomChannel(room), {
        origin: request.origin,
        exceptId: request.exceptId,
        sentAt: request.sentAt,
        frame,
        offset,
        epoch,
      });
    } catch (err) {
      // A bus that throws instead of rejecting must still make this a rejection.
      return Promise.reject(err as Error);
    }
    return published.then((receivers) => ({
      offset,
      epoch,
      frame,
      receivers,
    }));
  }

  /**
   * The stream's epoch and top, and its kept messages after `after` (by default the newest
   * `limit`), oldest first. A room without a stream gets one: empty, with a new epoch, which
   * the next append continues.
   */
  read(request: ReadRequest): Promise<ReadResult> {
    const { room, retention } = request;
    const now = this.now();
    const stream = this.open(room, retention, now);
    if (stream.top === 0) stream.activeAt = now;
    this.trim(stream, retention, now);

    const limit = Math.max(0, request.limit);
    const after = request.after ?? Math.max(0, stream.top - limit);
    const messages: StoredMessage[] = [];
    const oldest = stream.oldest();
    if (oldest) {
      const first = Math.max(after + 1, oldest.offset);
      const last = Math.min(stream.top, first + limit - 1);
      for (let offset = first; offset <= last; offset++)
        messages.push({ offset, frame: stream.at(offset).frame });
    }
    return Promise.resolve({ epoch: stream.epoch, top: stream.top, messages });
  }

  /** Stops the sweep; what is kept stays readable, and expiry is still checked on access. */
  onModuleDestroy(): void {
    this.destroyed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The room's live stream, a new one if it had none or if it had expired. */
  private open(room: string, retention: Retention, now: number): Stream {
    let stream = this.streams.get(room);
    if (stream && now - stream.activeAt > retention.ttlMs) {
      this.delete(room, stream);
      stream = undefined;
    }
    if (!stream) {
      stream = new Stream(now, retention.ttlMs);
      this.streams.set(room, stream);
    } else {
      stream.ttlMs = retention.ttlMs;
    }
    this.scheduleSweep(retention.ttlMs);
    return stream;
  }

  private keep(entry: Entry): void {
    entry.stream.push(entry);
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    else this.oldest = entry;
    this.newest = entry;
    this.messages++;
    this.bytes += cost(entry.frame);
  }

  /** Drops the stream's oldest messages beyond its size and past its ttl. */
  private trim(stream: Stream, retention: Retention, now: number): void {
    const size = Math.max(0, retention.size);
    const keptSince = now - retention.ttlMs;
    for (
      let oldest = stream.oldest();
      oldest && (stream.size > size || oldest.at < keptSince);
      oldest = stream.oldest()
    )
      this.dropOldest(stream);
  }

  private dropOldest(stream: Stream): void {
    const entry = stream.shift();
    if (!entry) return;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = entry.newer = undefined;
    this.messages--;
    this.bytes -= cost(entry.frame);
  }

  private delete(room: string, stream: Stream): void {
    while (stream.size > 0) this.dropOldest(stream);
    this.streams.delete(room);
  }

  /**
   * Runs the sweep every `min(ttl, 60 s)` (at least every second) for the shortest ttl used
   * since it started; no timer while there are no streams.
   */
  private scheduleSweep(ttlMs: number): void {
    if (this.destroyed) return;
    const interval =
      ttlMs > SWEEP_MAX_INTERVAL_MS
        ? SWEEP_MAX_INTERVAL_MS
        : ttlMs > SWEEP_MIN_INTERVAL_MS
          ? ttlMs
          : SWEEP_MIN_INTERVAL_MS;
    if (this.timer && interval >= this.sweepIntervalMs) return;
    clearInterval(this.timer);
    this.sweepIntervalMs = interval;
    this.timer = setInterval(() => this.sweep(), interval);
    // History alone must not keep the process alive.
    this.timer.unref();
  }

  /**
   * Deletes the streams idle past their ttl and drops expired messages from the others: rooms
   * nobody uses any more would otherwise hold their messages and epoch for ever. Linear in the
   * number of streams (plus the messages dropped, each dropped once).
   */
  private sweep(): void {
    const now = this.now();
    for (const [room, stream] of this.streams) {
      if (now - stream.activeAt > stream.ttlMs) this.delete(room, stream);
      else this.trim(stream, { size: stream.size, ttlMs: stream.ttlMs }, now);
    }
    if (this.streams.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.sweepIntervalMs = Infinity;
    }
  }
}

/** What a kept message is counted as costing (see {@link ENTRY_OVERHEAD}). */
function cost(frame: string): number {
  return 2 * frame.length + ENTRY_OVERHEAD;
}
