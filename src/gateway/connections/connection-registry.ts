import { Inject, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { LocalDelivery } from './local-delivery.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { INSTANCE_ID } from '../instance-id.js';
import { TrafficStats } from './traffic-stats.js';
import { ErrorJournal } from './error-journal.js';
import { KeyedCounter } from './keyed-counter.js';
import { WriteCoalescer } from './write-coalescer.js';
import {
  attachConnection,
  ClientConnection,
  type ConnectionContext,
  type ConnectionInfo,
} from './connection.js';

/**
 * The open connections of this instance, by id. Entries are added when the handshake completes
 * and removed on the socket's `close` event, whatever closed it, so the registry never outlives
 * its sockets.
 */
@Injectable()
export class ConnectionRegistry implements LocalDelivery {
  /**
   * The open connections, in no particular order: a closing connection's place goes to the last
   * one. Not a `Map` of connections: with entries coming and going, V8's young-generation
   * collector kept alive what such a `Map` had held, so each connection's objects, its socket's
   * included, were copied into the old generation instead of dying young (bytes promoted per
   * handshake: 2,431 with the `Map`, 1,186 without, 750 for a bare `ws` server), to be cleared by
   * full collections. A `Map` of numbers holds nothing of the kind.
   */
  private readonly open: ClientConnection[] = [];
  /** Each open connection's place in {@link open}, by id. */
  private readonly places = new Map<string, number>();
  private sequence = 0;

  private readonly context: ConnectionContext;
  /**
   * Open connections by principal subject and by remote address, for the per-principal and
   * per-address caps; only kept while a cap needs them (a map write per handshake otherwise).
   */
  readonly byPrincipal?: KeyedCounter;
  readonly byAddress?: KeyedCounter;

  constructor(
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    private readonly traffic: TrafficStats,
    @Inject(GATEWAY_OPTIONS) options: ResolvedGatewayOptions,
    errors: ErrorJournal,
  ) {
    this.context = {
      traffic,
      errors,
      writes: new WriteCoalescer(),
      maxBufferedBytes: options.maxBufferedBytes,
      rateLimit: options.rateLimit,
      closeGraceMs: options.closeGraceMs,
    };
    if (options.maxConnectionsPerPrincipal > 0)
      this.byPrincipal = new KeyedCounter();
    if (options.maxConnectionsPerAddress > 0)
      this.byAddress = new KeyedCounter();
  }

  /** How many connections are open. */
  get size(): number {
    return this.open.length;
  }

  register(
    socket: WebSocket,
    principal: Principal,
    remoteAddress: string,
  ): ClientConnection {
    const id = `${this.instanceId}-${(++this.sequence).toString(36)}`;
    const connection = new ClientConnection(
      id,
      socket,
      principal,
      remoteAddress,
      this.context,
    );
    this.places.set(id, this.open.length);
    this.open.push(connection);
    this.byPrincipal?.increment(principal.subject);
    this.byAddress?.increment(remoteAddress);
    attachConnection(socket, connection);
    return connection;
  }

  unregister(connection: ClientConnection): void {
    const place = this.places.get(connection.id);
    // Counted down once, however often a close is reported.
    if (place === undefined) return;
    this.places.delete(connection.id);
    const last = this.open.pop()!;
    if (last !== connection) {
      this.open[place] = last;
      this.places.set(last.id, place);
    }
    this.byPrincipal?.decrement(connection.principal.subject);
    this.byAddress?.decrement(connection.remoteAddress);
  }

  get(id: string): ClientConnection | undefined {
    const place = this.places.get(id);
    return place === undefined ? undefined : this.open[place];
  }

  /**
   * Bytes waiting in the sockets' send buffers: the sum, and the fullest connection's. A walk
   * over the connections, for the console's numbers every few seconds, not per message.
   */
  sendBuffers(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const connection of this.open) {
      const buffered = connection.socket.bufferedAmount;
      total += buffered;
      if (buffered > max) max = buffered;
    }
    return { total, max };
  }

  /** The open connections, live: not to be iterated across anything that may close one. */
  values(): IterableIterator<ClientConnection> {
    return this.open.values();
  }

  /** A snapshot, safe to iterate while connections close. */
  all(): ClientConnection[] {
    return this.open.slice();
  }

  info(connectionId: string): ConnectionInfo | undefined {
    return this.get(connectionId);
  }

  sendToAll(frame: string, exceptId?: string, event = 'push'): number {
    // Encoded once for every recipient, rather than by each socket.
    const payload = Buffer.from(frame);
    const bytes = payload.length;
    let sent = 0;
    for (const connection of this.open) {
      if (connection.id !== exceptId && connection.write(payload)) sent++;
    }
    this.fannedOut(exceptId, bytes, sent, event);
    return sent;
  }

  sendToEach(
    connectionIds: Iterable<string>,
    frame: string,
    exceptId?: string,
    event = 'push',
  ): number {
    const payload = Buffer.from(frame);
    const bytes = payload.length;
    let sent = 0;
    for (const id of connectionIds) {
      if (id !== exceptId && this.get(id)?.write(payload)) sent++;
    }
    this.fannedOut(exceptId, bytes, sent, event);
    return sent;
  }

  replay(
    connectionId: string,
    frames: readonly string[],
    event: string,
  ): number {
    const connection = this.get(connectionId);
    if (!connection) return 0;
    let sent = 0;
    let bytes = 0;
    for (const frame of frames) {
      if (!connection.write(frame)) break;
      sent++;
      const size = Buffer.byteLength(frame);
      bytes += size;
      this.traffic.sent(event, size);
    }
    if (bytes > 0) connection.chargeFanout(bytes);
    return sent;
  }

  /**
   * Counts a fan-out, and charges it to its sender when the sender is here (the one connection a
   * fan-out skips): what a client's message costs the server grows with its recipients.
   */
  private fannedOut(
    senderId: string | undefined,
    bytes: number,
    sent: number,
    event: string,
  ): void {
    this.traffic.sent(event, bytes, sent);
    if (senderId !== undefined && sent > 0)
      this.get(senderId)?.chargeFanout(bytes * sent);
  }

  close(connectionId: string, code: number, reason: string): boolean {
    const connection = this.get(connectionId);
    connection?.close(code, reason);
    return connection !== undefined;
  }

  sendTo(connectionId: string, frame: string, event = 'push'): boolean {
    return this.get(connectionId)?.send(frame, event) ?? false;
  }
}
