import { Injectable, Logger } from '@nestjs/common';
import type {
  HistoryReply,
  JoinReply,
  ResumeResult,
} from '../../protocol/frames.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import type { Principal } from '../auth/principal.js';
import type { ConnectionInfo } from '../connections/connection.js';
import { mapError } from '../dispatch/error-mapping.js';
import type { StreamPosition } from '../history/history-store.js';
import { pushData } from '../history/history-store.js';
import { RoomHistory, type ReplayBudget } from '../history/room-history.js';
import { PresenceService } from '../presence/presence.service.js';
import { RoomAccess } from './room-access.js';
import { RoomsService } from './rooms.service.js';
import { assertRoomName } from './room-name.js';

/** One room of a `resume`: where the client was, if it knows, and whether it wants presence. */
export interface ResumeEntry {
  room: string;
  since?: StreamPosition;
  presence?: boolean;
}

/** How many messages `history` returns when the request does not say. */
export const DEFAULT_HISTORY_LIMIT = 100;

/**
 * The requests that join rooms with their past and presence, and read that past: `join` (one
 * room, from a position, with presence), `resume` (every room of a previous connection in one
 * round trip) and `history` (a page of kept messages without joining).
 */
@Injectable()
export class RecoveryService {
  private readonly logger = new Logger('Gateway');

  constructor(
    private readonly rooms: RoomsService,
    private readonly access: RoomAccess,
    private readonly history: RoomHistory,
    private readonly presence: PresenceService,
  ) {}

  /**
   * Joins each room as `join` would, all at once; one room's refusal or failure is its entry's
   * `error` and leaves the others joined. The rooms share one replay budget of
   * `maxBufferedBytes`: past it, a room answers `recovered:false`. Refuses (`BAD_REQUEST`) a list naming a room twice or
   * more rooms than a connection may be in, before joining any.
   */
  async resume(
    connection: ConnectionInfo,
    entries: readonly ResumeEntry[],
    {
      maxRooms,
      maxBufferedBytes,
    }: { maxRooms: number; maxBufferedBytes: number },
  ): Promise<ResumeResult[]> {
    if (entries.length > maxRooms)
      throw GatewayError.badRequest(
        `resume names ${entries.length} rooms; a connection may be in at most ${maxRooms}`,
      );
    const seen = new Set<string>();
    for (const { room } of entries) {
      if (seen.has(room))
        throw GatewayError.badRequest(`resume names room "${room}" twice`);
      seen.add(room);
    }
    const budget: ReplayBudget = { bytes: maxBufferedBytes };
    return Promise.all(
      entries.map((entry) => this.resumeRoom(connection, entry, budget)),
    );
  }

  /** A page of the room's kept messages (see docs/protocol.md, `history`). */
  async page(
    principal: Principal,
    room: string,
    since: StreamPosition | undefined,
    limit: number | undefined,
  ): Promise<HistoryReply> {
    assertRoomName(room);
    const max = this.history.recoveryLimit;
    if (limit !== undefined && limit > max)
      throw GatewayError.badRequest(`limit must be at most ${max}`, [
        { field: 'limit', message: `must be at most ${max}` },
      ]);
    await this.access.check(principal, room, 'history');
    const retention = this.history.retention(room);
    if (retention.size === 0)
      throw GatewayError.badRequest(`room "${room}" keeps no history`);
    const page = await this.history.page(
      room,
      since,
      limit ?? Math.min(DEFAULT_HISTORY_LIMIT, max),
      retention,
    );
    return {
      room,
      ...page.position,
      messages: page.messages.map(
        (message) =>
          JSON.parse(
            pushData(message.frame),
          ) as HistoryReply['messages'][number],
      ),
    };
  }

  /**
   * Joins a room on a client's behalf, as `join` and each room of `resume` do: the policy's
   * `join` (and `presence`, when asked) first, so that a refused join subscribes to nothing;
   * then the room, from `since` when given; then its presence when asked. The replay comes out
   * of `budget` (the request's; by default `maxBufferedBytes`).
   */
  async join(
    connection: ConnectionInfo,
    { room, since, presence }: ResumeEntry,
    budget?: ReplayBudget,
  ): Promise<JoinReply> {
    await this.access.check(connection.principal, room, 'join');
    if (presence)
      await this.access.check(connection.principal, room, 'presence');
    const reply = await this.rooms.join(connection.id, room, since, budget);
    return presence
      ? {
          ...reply,
          presence: await this.presence.subscribeForReply(connection, room),
        }
      : reply;
  }

  private async resumeRoom(
    connection: ConnectionInfo,
    entry: ResumeEntry,
    budget: ReplayBudget,
  ): Promise<ResumeResult> {
    try {
      return await this.join(connection, entry, budget);
    } catch (err) {
      const { payload, unexpected } = mapError(err);
      if (unexpected)
        this.logger.error({ err, room: entry.room }, 'resuming a room failed');
      return { room: entry.room, error: payload };
    }
  }
}
