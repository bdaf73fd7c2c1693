import type { PublishReceipt } from '../../protocol/frames.js';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleInit,
} from '@nestjs/common';
import {
  LOCAL_DELIVERY,
  type LocalDelivery,
} from '../connections/local-delivery.js';
import { roomChannel } from '../bus/channels.js';
import { FanOut } from '../bus/fan-out.js';
import {
  MESSAGE_BUS,
  type BusMessage,
  type MessageBus,
} from '../bus/message-bus.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { INSTANCE_ID } from '../instance-id.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { assertRoomName } from './room-name.js';

/** A message for the members of a room. */
export interface RoomMessage {
  room: string;
  /** Who sends it: the sending connection's id, or a name server code chooses. */
  from: string;
  /** Any JSON value; absent is sent as `null`. */
  data: unknown;
  /** A connection that must not receive it, normally the sender's own. */
  exceptId?: string;
}

/**
 * Rooms: named groups of connections that receive `message` pushes. Membership is local to the
 * instance; a room message goes to the local members and, through the message bus, to the
 * instances that have members of their own. An instance is subscribed to a room's channel only
 * while it has local members.
 *
 * Both maps are bounded: a connection is in at most `maxRoomsPerConnection` rooms, and its
 * entries go when it disconnects.
 */
@Injectable()
export class RoomsService implements OnModuleInit {
  private readonly logger = new Logger('Gateway');
  /** room -> ids of its local members */
  private readonly members = new Map<string, Set<string>>();
  /** connection id -> the rooms it is in */
  private readonly memberships = new Map<string, Set<string>>();
  /** room -> its bus subscription, while it is being made or held */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly fanOut: FanOut;

  constructor(
    @Inject(LOCAL_DELIVERY) private readonly local: LocalDelivery,
    @Inject(MESSAGE_BUS) bus: MessageBus,
    @Inject(INSTANCE_ID) instanceId: string,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly events: GatewayEvents,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {
    this.fanOut = new FanOut(bus, instanceId, metrics);
  }

  onModuleInit(): void {
    this.events.on('disconnected', (connection) =>
      this.leaveAll(connection.id),
    );
  }

  /** Rooms with at least one local member. */
  get roomCount(): number {
    return this.members.size;
  }

  /** Local members of a room. */
  memberCount(room: string): number {
    return this.members.get(room)?.size ?? 0;
  }

  /** The rooms a local connection is in. */
  roomsOf(connectionId: string): string[] {
    return [...(this.memberships.get(connectionId) ?? [])];
  }

  /**
   * Adds a local connection to a room. Resolves once the instance receives the room's messages
   * from other instances too (when the bus is up; while it is down, local members are served and
   * the subscription is made when it returns). Joining a room twice changes nothing.
   */
  async join(connectionId: string, room: string): Promise<void> {
    assertRoomName(room);
    const connection = this.local.info(connectionId);
    if (!connection)
      throw GatewayError.badRequest(
        `no connection ${connectionId} on this instance`,
      );
    let rooms = this.memberships.get(connectionId);
    if (rooms?.has(room)) return;
    const limit = this.options.maxRoomsPerConnection;
    if (rooms && rooms.size >= limit) {
      throw GatewayError.forbidden(
        `a connection may be in at most ${limit} rooms`,
      );
    }
    if (!rooms) {
      rooms = new Set();
      this.memberships.set(connectionId, rooms);
    }
    rooms.add(room);
    let members = this.members.get(room);
    const first = !members;
    if (!members) {
      members = new Set();
      this.members.set(room, members);
    }
    members.add(connectionId);
    this.events.emit('joined', connection, room);
    if (first) {
      this.subscriptions.set(
        room,
        this.fanOut.subscribe(roomChannel(room), (message) =>
          this.deliver(room, message),
        ),
      );
    }
    // Every joiner, not just the first, waits until the instance hears the room's messages
    // from other instances: the reply to `join` promises exactly that.
    await this.subscriptions.get(room);
  }

  /** Removes a local connection from a room; false when it was not a member. */
  leave(connectionId: string, room: string): boolean {
    assertRoomName(room);
    const rooms = this.memberships.get(connectionId);
    if (!rooms?.delete(room)) return false;
    if (rooms.size === 0) this.memberships.delete(connectionId);
    this.removeMember(connectionId, room);
    return true;
  }

  /** Removes a connection from every room it is in (it disconnected). */
  leaveAll(connectionId: string): void {
    const rooms = this.memberships.get(connectionId);
    if (!rooms) return;
    this.memberships.delete(connectionId);
    for (const room of rooms) this.removeMember(connectionId, room);
  }

  /**
   * Pushes `{"event":"message","data":{"room","from","data"}}` to every member of the room but
   * `exceptId`, on every instance. The sender need not be a member. Rejects with `UNAVAILABLE`
   * when the bus cannot take the message (the local members have received it by then).
   */
  async publish({
    room,
    from,
    data,
    exceptId,
  }: RoomMessage): Promise<PublishReceipt> {
    assertRoomName(room);
    const frame = JSON.stringify({
      event: 'message',
      data: { room, from, data: data === undefined ? null : data },
    });
    const members = this.members.get(room);
    const recipients = members
      ? this.local.sendToEach(members, frame, exceptId, 'message')
      : 0;
    this.metrics?.fannedOut('room', recipients);
    const remote = await this.fanOut.publish(
      roomChannel(room),
      { exceptId, frame },
      () =>
        `the message reached ${recipients} member(s) here but not the other instances`,
    );
    return { room, recipients, instances: 1 + remote };
  }

  private removeMember(connectionId: string, room: string): void {
    const members = this.members.get(room);
    if (!members?.delete(connectionId)) return;
    const connection = this.local.info(connectionId);
    if (connection) this.events.emit('left', connection, room);
    if (members.size > 0) return;
    this.members.delete(room);
    this.subscriptions.delete(room);
    this.fanOut.unsubscribe(roomChannel(room)).catch((err: unknown) => {
      this.logger.warn({ err, room }, 'room unsubscribe failed');
    });
  }

  private deliver(room: string, message: BusMessage): void {
    const members = this.members.get(room);
    if (members)
      this.local.sendToEach(
        members,
        message.frame,
        message.exceptId,
        'message',
      );
  }
}
