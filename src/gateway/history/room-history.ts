import { Inject, Injectable, Optional } from '@nestjs/common';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { INSTANCE_ID } from '../instance-id.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import {
  FRAME_PREFIX,
  HISTORY_STORE,
  type Appended,
  type HistoryStore,
  type Retention,
  type StoredMessage,
  type StreamPosition,
} from './history-store.js';

/** The answer to a recovery: where the room is, and the missed messages when all are kept. */
export interface Recovery {
  position: StreamPosition;
  recovered: boolean;
  /** The messages after the client's position, up to `position`; empty unless recovered. */
  messages: readonly StoredMessage[];
}

/**
 * The bytes a connection may still be sent by recoveries it asked for in one request: one
 * `join`, or every room of one `resume` together. Replayed messages land in the connection's
 * send buffer at once, so their total is held to what a client may leave unread
 * (`maxBufferedBytes`); past it a recovery answers `recovered:false` and the client reads the
 * rest page by page with `history`.
 */
export interface ReplayBudget {
  bytes: number;
}

/** A page of a room's history, as `history` replies it (the messages still serialized). */
export interface HistoryPage {
  position: StreamPosition;
  messages: readonly StoredMessage[];
}

const unavailable = (room: string, what: string) =>
  GatewayError.unavailable(
    `the history of room "${room}" cannot be reached: ${what}`,
  );

/**
 * The rooms' side of the history store: which rooms keep history and how much, appending with
 * the push built once, and the checks that make a recovery all or nothing. A store failure
 * becomes `UNAVAILABLE` here, so no caller delivers a message without its offset or claims a
 * recovery it could not check.
 */
@Injectable()
export class RoomHistory {
  private readonly defaults: Retention;

  constructor(
    @Inject(HISTORY_STORE) private readonly store: HistoryStore,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {
    this.defaults = {
      size: options.history.size,
      ttlMs: options.history.ttlMs,
    };
  }

  /** Most messages one recovery replays, and the largest `history` page. */
  get recoveryLimit(): number {
    return this.options.history.recoveryLimit;
  }

  /** How much of the room's stream is kept; `size` 0 means the room keeps no history. */
  retention(room: string): Retention {
    const custom = this.options.history.retention?.(room);
    if (!custom) return this.defaults;
    return {
      size: custom.size ?? this.defaults.size,
      ttlMs: custom.ttlMs ?? this.defaults.ttlMs,
    };
  }

  /**
   * Appends a room message and hands it to the other instances; rejects with `UNAVAILABLE`
   * when the store cannot take it, and then nobody receives it.
   */
  async append(
    room: string,
    from: string,
    data: unknown,
    exceptId: string | undefined,
    retention: Retention,
    subscribed: boolean,
  ): Promise<Appended> {
    const frameHead = `${FRAME_PREFIX}{"room":${JSON.stringify(room)},"from":${JSON.stringify(from)},"data":${JSON.stringify(data === undefined ? null : data)},"offset":`;
    try {
      const appended = await this.store.append({
        room,
        frameHead,
        origin: this.instanceId,
        exceptId,
        sentAt: Date.now(),
        retention,
        subscribed,
      });
      this.metrics?.historyAppended();
      return appended;
    } catch {
      throw unavailable(room, 'the message was not sent to anyone');
    }
  }

  /** The room's current position; rejects with `UNAVAILABLE`. */
  async position(room: string, retention: Retention): Promise<StreamPosition> {
    try {
      const { epoch, top } = await this.store.read({
        room,
        limit: 0,
        retention,
      });
      return { offset: top, epoch };
    } catch {
      throw unavailable(room, 'its position is unknown');
    }
  }

  /**
   * The messages after `since`, all of them or none: recovered when `since` is of the current
   * epoch, not ahead of it, the message after it is still kept, and at most the recovery limit
   * came since. Rejects with `UNAVAILABLE` rather than answer unchecked.
   */
  async recover(
    room: string,
    since: StreamPosition,
    retention: Retention,
    budget: ReplayBudget,
  ): Promise<Recovery> {
    const limit = this.recoveryLimit;
    let read;
    try {
      read = await this.store.read({
        room,
        after: since.offset,
        limit,
        retention,
      });
    } catch {
      this.metrics?.recovery('unavailable', 0);
      throw unavailable(room, 'nothing could be recovered');
    }
    const position = { offset: read.top, epoch: read.epoch };
    const missed = read.top - since.offset;
    const complete =
      since.epoch === read.epoch &&
      missed >= 0 &&
      missed <= limit &&
      read.messages.length === missed &&
      (missed === 0 || read.messages[0].offset === since.offset + 1);
    if (!complete) {
      this.metrics?.recovery(since.epoch === read.epoch ? 'gone' : 'epoch', 0);
      return { position, recovered: false, messages: [] };
    }
    let bytes = 0;
    for (const message of read.messages)
      bytes += Buffer.byteLength(message.frame);
    if (bytes > budget.bytes) {
      this.metrics?.recovery('too_large', 0);
      return { position, recovered: false, messages: [] };
    }
    budget.bytes -= bytes;
    this.metrics?.recovery('recovered', missed);
    return { position, recovered: true, messages: read.messages };
  }

  /**
   * Kept messages after `since` when it is of the current epoch, else the newest; at most
   * `limit`, oldest first. Rejects with `UNAVAILABLE`.
   */
  async page(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    retention: Retention,
  ): Promise<HistoryPage> {
    try {
      let read = await this.store.read({
        room,
        after: since?.offset,
        limit,
        retention,
      });
      if (since && since.epoch !== read.epoch)
        read = await this.store.read({ room, limit, retention });
      return {
        position: { offset: read.top, epoch: read.epoch },
        messages: this.fitting(read.messages),
      };
    } catch {
      throw unavailable(room, 'it could not be read');
    }
  }

  /**
   * The first messages of a page that fit in `maxBufferedBytes` (at least one, so that paging
   * always moves on): a page is one reply frame, held in the send buffer at once.
   */
  private fitting(
    messages: readonly StoredMessage[],
  ): readonly StoredMessage[] {
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      bytes += Buffer.byteLength(messages[i].frame);
      if (bytes > this.options.maxBufferedBytes && i > 0)
        return messages.slice(0, i);
    }
    return messages;
  }

  /** Kept messages of `epoch` after `after`, for a sequencer's gap; undefined when it cannot. */
  async fill(
    room: string,
    epoch: string,
    after: number,
    limit: number,
    retention: Retention,
  ): Promise<readonly StoredMessage[] | undefined> {
    try {
      const read = await this.store.read({ room, after, limit, retention });
      return read.epoch === epoch ? read.messages : undefined;
    } catch {
      return undefined;
    }
  }
}
