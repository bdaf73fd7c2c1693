import type { StreamPosition } from '../../protocol/frames.js';

/**
 * Where a reader is in a room's stream (see the protocol's `StreamPosition`). Offsets count up
 * from 1 per room, gap-free, the same on every instance; a new epoch starts at 0 again whenever
 * the stream is lost (expired entirely, Redis flushed, an in-memory instance restarted), so
 * that an old position is never read as a new one.
 */
export type { StreamPosition };

/** How much of a room's stream is kept: at most `size` messages, none older than `ttlMs`. */
export interface Retention {
  /** Messages kept per room; 0 turns history off for the room. */
  size: number;
  /** How long a message is kept, and how long a stream outlives its last message, in ms. */
  ttlMs: number;
}

/** One kept message. */
export interface StoredMessage {
  offset: number;
  /**
   * The whole `message` push as clients receive it, serialized once when it was published:
   * `{"event":"message","data":{"room":R,"from":C,"data":D,"offset":N}}`.
   */
  frame: string;
}

/** A room message on its way into the stream. */
export interface AppendRequest {
  room: string;
  /**
   * The push up to its offset: `{"event":"message","data":{"room":R,"from":C,"data":D,"offset":`.
   * The store completes it with the offset it assigns and {@link FRAME_TAIL}.
   */
  frameHead: string;
  /** The instance publishing it; it is not handed back to that instance by the bus. */
  origin: string;
  /** The connection that must not receive it (the sender), if any. */
  exceptId?: string;
  /** When it was published (ms since the epoch): the delivery latency metric's start. */
  sentAt: number;
  retention: Retention;
  /**
   * Whether the publishing instance listens on the room's bus channel itself (it has members
   * of the room), so that a store counting the channel's subscribers leaves it out.
   */
  subscribed?: boolean;
}

/** What {@link HistoryStore.append} did. */
export interface Appended extends StreamPosition {
  /** The completed push, offset included. */
  frame: string;
  /** How many other instances the bus handed it to. */
  receivers: number;
}

/** Which part of a stream {@link HistoryStore.read} returns. */
export interface ReadRequest {
  room: string;
  /**
   * Messages after this offset, oldest first. Omitted: the newest `limit` messages.
   */
  after?: number;
  /** At most this many messages; 0 reads the position only. */
  limit: number;
  retention: Retention;
}

/** A stream's state and a run of its kept messages, read at one moment. */
export interface ReadResult {
  /** The stream's life; a stream that did not exist is created (empty) by the read. */
  epoch: string;
  /** Offset of the newest message (0 when none was ever appended in this epoch). */
  top: number;
  /**
   * Kept messages in `(after, top]`, oldest first, at most `limit`: consecutive offsets, from the
   * oldest still kept. Expired and trimmed messages are not returned.
   */
  messages: StoredMessage[];
}

/**
 * A room's message stream: appends with gap-free offsets and reads back what is kept. The store
 * also hands each appended message to the other instances, in the same step as the append, so
 * that every instance sees a room's messages in offset order (Redis does both in one script).
 *
 * Every method rejects when the store cannot be reached; the caller then answers `UNAVAILABLE`
 * rather than deliver a message without an offset or claim a recovery it could not check.
 */
export interface HistoryStore {
  /** Appends a message to its room's stream and publishes it to the other instances. */
  append(request: AppendRequest): Promise<Appended>;
  /** The stream's epoch and top, and the kept messages asked for. */
  read(request: ReadRequest): Promise<ReadResult>;
  /** Whether the store can be reached right now (readiness); a store without it always can. */
  isReady?(): boolean;
}

/** Injection token of the {@link HistoryStore} the rooms use. */
export const HISTORY_STORE = Symbol('HISTORY_STORE');

/** Starts every room `message` push up to its room name. */
export const FRAME_PREFIX = '{"event":"message","data":';

/** What follows the offset in a room push: the end of `data` and of the frame. */
export const FRAME_TAIL = '}}';

/** The `data` of a stored push, `{"room","from","data","offset"}`, as JSON text. */
export function pushData(frame: string): string {
  return frame.slice(FRAME_PREFIX.length, frame.length - 1);
}
