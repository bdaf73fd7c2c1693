import { Inject, Injectable } from '@nestjs/common';
import type {
  ConnectionRow,
  ErrorRow,
  InstanceStats,
  RoomRow,
} from '../../protocol/console.js';
import { MESSAGE_BUS, type MessageBus } from '../bus/message-bus.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { DrainState } from '../connections/drain-state.js';
import { ErrorJournal } from '../connections/error-journal.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { INSTANCE_ID } from '../instance-id.js';
import { RoomsService } from '../rooms/rooms.service.js';
import { RateSampler, sumOf } from './instance-stats.js';
import { packageInfo } from '../package-info.js';

/** One room at one instance, as the console merges it over the instances into a {@link RoomRow}. */
export type LocalRoomRow = Omit<RoomRow, 'instances' | 'presence'>;

/** A page of matches and how many matched in all. */
export interface Page<T> {
  rows: T[];
  total: number;
}

/** Close codes an operator may close a connection with: normal, or the application's range. */
export const isOperatorCloseCode = (code: unknown): code is number =>
  Number.isInteger(code) &&
  ((code as number) === 1000 ||
    ((code as number) >= 3000 && (code as number) <= 4999));

/**
 * What one instance tells the console of itself: its numbers, its rooms, its connections, its
 * last errors; and what it does on an operator's word (close one of its connections). Every
 * instance answers these for its own part; `ConsoleCluster` asks them all.
 */
@Injectable()
export class LocalConsole {
  private readonly sampler = new RateSampler();
  private readonly startedAt = Date.now();
  private readonly version = packageInfo().version;
  /** Each room's count at the last rooms query, for its rate. */
  private roomCounts = new Map<string, { messages: number; at: number }>();

  constructor(
    @Inject(INSTANCE_ID) readonly instanceId: string,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    private readonly registry: ConnectionRegistry,
    private readonly traffic: TrafficStats,
    private readonly journal: ErrorJournal,
    private readonly drain: DrainState,
    private readonly rooms: RoomsService,
  ) {}

  /** This instance's numbers, the rates since the previous call. */
  stats(now = Date.now()): InstanceStats {
    const buffers = this.registry.sendBuffers();
    const clustered =
      this.options.redis !== undefined || this.options.bus !== undefined;
    return this.sampler.sample(
      now,
      {
        messagesIn: sumOf(this.traffic.messagesIn),
        messagesOut: sumOf(this.traffic.messagesOut),
        errors: sumOf(this.traffic.errors),
        bytesIn: this.traffic.bytesIn,
        bytesOut: this.traffic.bytesOut,
      },
      {
        id: this.instanceId,
        version: this.version,
        startedAt: this.startedAt,
        connections: this.registry.size,
        rooms: this.rooms.roomCount,
        bufferedBytes: buffers.total,
        maxBufferedRatio:
          Math.round((buffers.max / this.options.maxBufferedBytes) * 1000) /
          1000,
        bus: clustered ? (this.bus.isReady() ? 'ready' : 'down') : 'memory',
        draining: this.drain.draining,
        intervalMs: this.options.console?.statsIntervalMs ?? 0,
      },
    );
  }

  /** This instance's rooms with members whose name contains `q`. */
  roomRows(q: string, now = Date.now()): LocalRoomRow[] {
    const counts = new Map<string, { messages: number; at: number }>();
    const rows: LocalRoomRow[] = [];
    for (const room of this.rooms.snapshot()) {
      counts.set(room.name, { messages: room.messages, at: now });
      // A room without members here is one a console tails: the tail is not a member.
      if (room.members === 0 || (q && !room.name.includes(q))) continue;
      const last = this.roomCounts.get(room.name);
      const ms = last ? now - last.at : 0;
      rows.push({
        name: room.name,
        members: room.members,
        messagesPerSec:
          last && ms > 0
            ? Math.round(((room.messages - last.messages) * 10_000) / ms) / 10
            : 0,
        history: room.history,
      });
    }
    this.roomCounts = counts;
    return rows;
  }

  /** This instance's connections matching `q` (principal, id, room or address), `limit` of them. */
  connectionRows(q: string, limit: number): Page<ConnectionRow> {
    const rows: ConnectionRow[] = [];
    let total = 0;
    for (const connection of this.registry.values()) {
      const rooms = this.rooms.roomsOf(connection.id);
      if (
        q &&
        !connection.principal.subject.includes(q) &&
        !connection.id.includes(q) &&
        !connection.remoteAddress.includes(q) &&
        !rooms.some((room) => room.includes(q))
      )
        continue;
      total++;
      if (rows.length >= limit) continue;
      rows.push({
        id: connection.id,
        instance: this.instanceId,
        principal: connection.principal.subject,
        remoteAddress: connection.remoteAddress,
        openedAt: connection.openedAt,
        rooms,
        messagesIn: connection.messagesIn,
        messagesOut: connection.messagesOut,
        bufferedBytes: connection.socket.bufferedAmount,
        lastHeartbeatAt: connection.lastPongAt,
      });
    }
    return { rows, total };
  }

  /** This instance's last errors, newest first. */
  errorRows(limit: number): ErrorRow[] {
    return this.journal
      .recent(limit)
      .map((entry) => ({ ...entry, instance: this.instanceId }));
  }

  /** Closes one of this instance's connections; false when it has no such connection. */
  disconnect(connectionId: string, code: number, reason: string): boolean {
    return this.registry.close(connectionId, code, reason);
  }
}
