import type { JoinReply, PublishReceipt } from '../../protocol/frames.js';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleDestroy,
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
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { CatchUp } from '../history/catch-up.js';
import type { Retention, StreamPosition } from '../history/history-store.js';
import { RoomHistory, type ReplayBudget } from '../history/room-history.js';
import {
  RoomSequencer,
  type SequencedMessage,
} from '../history/room-sequencer.js';
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

/** How often rooms whose stream could not be read, or whose bus was away, are looked at. */
const STREAM_CHECK_MS = 1_000;

/** A room's history at this instance: the order of its messages and who is catching up. */
interface RoomStream {
  readonly retention: Retention;
  readonly sequencer: RoomSequencer;
  /** Connections joining: their live messages wait here until their read answers. */
  readonly joining: Map<string, CatchUp>;
  /** The read of the room's position that starts the sequencer, while it runs. */
  starting?: Promise<void>;
}

/** Sees each message a room delivers at this instance, as its members get it (serialized). */
export type RoomTap = (frame: string) => void;

/** One room of this instance, as the web console lists it. */
export interface RoomSnapshot {
  readonly name: string;
  /** Local members, joining ones included. */
  readonly members: number;
  /** Messages delivered here since the room's state was made. */
  readonly messages: number;
  /** Set when the room keeps history: its last offset (once known) and its retention. */
  readonly history?: { offset?: number; size: number; ttlMs: number };
}

/** A room with local members (or members joining, or taps). */
interface RoomState {
  /** Local members that receive the room's messages as they come. */
  readonly members: Set<string>;
  /** Watchers of the room's messages that are not connections (the console's tail). */
  taps?: Set<RoomTap>;
  /** Messages delivered here: one increment per message, not per member. */
  messages: number;
  /** Its bus subscription, while it is being made or held. */
  readonly subscription: Promise<void>;
  /** Set when the room keeps history. */
  readonly stream?: RoomStream;
}

/**
 * Rooms: named groups of connections that receive `message` pushes. Membership is local to the
 * instance; a room message goes to the local members and, through the message bus, to the
 * instances that have members of their own. An instance is subscribed to a room's channel only
 * while it has local members.
 *
 * A room with history (see `RoomHistory`) numbers its messages in a stream kept by the history
 * store: a publish is appended first (and fails, delivered to nobody, when the store cannot
 * take it), every instance delivers in offset order (`RoomSequencer`), and a joining
 * connection gets the messages after its position exactly once (`CatchUp`).
 *
 * Both maps are bounded: a connection is in at most `maxRoomsPerConnection` rooms, and its
 * entries go when it disconnects.
 */
@Injectable()
export class RoomsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Gateway');
  /** room -> its local state */
  private readonly rooms = new Map<string, RoomState>();
  /** connection id -> the rooms it is in */
  private readonly memberships = new Map<string, Set<string>>();
  private readonly fanOut: FanOut;
  private streamCheck: NodeJS.Timeout | undefined;
  private busWasReady = true;

  constructor(
    @Inject(LOCAL_DELIVERY) private readonly local: LocalDelivery,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(INSTANCE_ID) instanceId: string,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly events: GatewayEvents,
    private readonly history: RoomHistory,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {
    this.fanOut = new FanOut(bus, instanceId, metrics);
  }

  onModuleInit(): void {
    this.events.on('disconnected', (connection) =>
      this.leaveAll(connection.id),
    );
    this.streamCheck = setInterval(() => this.checkStreams(), STREAM_CHECK_MS);
    this.streamCheck.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.streamCheck);
    for (const state of this.rooms.values()) state.stream?.sequencer.stop();
  }

  /** Rooms with at least one local member. */
  get roomCount(): number {
    return this.rooms.size;
  }

  /** Local members of a room. */
  memberCount(room: string): number {
    const state = this.rooms.get(room);
    return state ? state.members.size + (state.stream?.joining.size ?? 0) : 0;
  }

  /** The rooms of this instance with their local numbers, for the console. */
  snapshot(): RoomSnapshot[] {
    const rooms: RoomSnapshot[] = [];
    for (const [name, state] of this.rooms) {
      const stream = state.stream;
      rooms.push({
        name,
        members: state.members.size + (stream?.joining.size ?? 0),
        messages: state.messages,
        history: stream
          ? {
              offset: stream.sequencer.position?.offset,
              size: stream.retention.size,
              ttlMs: stream.retention.ttlMs,
            }
          : undefined,
      });
    }
    return rooms;
  }

  /**
   * Hands `tap` every message the room delivers at this instance from now on, as a member would
   * get it, without being a member (no presence, no counts): the console's tail. The instance
   * subscribes to the room as for a member. Returns the function that stops it.
   */
  watch(room: string, tap: RoomTap): () => void {
    assertRoomName(room);
    const state = this.roomState(room);
    (state.taps ??= new Set()).add(tap);
    // A room with history delivers in offset order once its sequencer knows where it is.
    if (state.stream)
      this.startStream(room, state.stream).catch(() => undefined);
    return () => {
      if (!state.taps?.delete(tap)) return;
      if (state.taps.size === 0) state.taps = undefined;
      this.releaseIfIdle(room, state);
    };
  }

  /** The rooms a local connection is in. */
  roomsOf(connectionId: string): string[] {
    return [...(this.memberships.get(connectionId) ?? [])];
  }

  /**
   * Adds a local connection to a room. Resolves once the instance receives the room's messages
   * from other instances too (when the bus is up; while it is down, local members are served and
   * the subscription is made when it returns). Joining a room twice changes nothing.
   *
   * For a room with history, resolves with the room's position; with `since`, the messages
   * after it have been sent first when `recovered` is true (see docs/protocol.md). Rejects with
   * `UNAVAILABLE` when a recovery cannot be checked; a join without `since` while the store is
   * away still joins, without a position. The replayed messages' bytes come out of `budget`
   * (one request's, shared by the rooms of a `resume`; by default `maxBufferedBytes`).
   */
  async join(
    connectionId: string,
    room: string,
    since?: StreamPosition,
    budget: ReplayBudget = { bytes: this.options.maxBufferedBytes },
  ): Promise<JoinReply> {
    assertRoomName(room);
    const connection = this.local.info(connectionId);
    if (!connection)
      throw GatewayError.badRequest(
        `no connection ${connectionId} on this instance`,
      );
    let rooms = this.memberships.get(connectionId);
    const already = rooms?.has(room) === true;
    if (!already) {
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
    }
    const state = this.roomState(room);
    if (!already) this.events.emit('joined', connection, room);
    const stream = state.stream;
    if (!stream) {
      state.members.add(connectionId);
      // Every joiner, not just the first, waits until the instance hears the room's messages
      // from other instances: the reply to `join` promises exactly that.
      await state.subscription;
      return since ? { room, recovered: false } : { room };
    }
    const position = stream.sequencer.position;
    if (already && !since && position && state.members.has(connectionId))
      return { room, ...position };
    return this.catchUp(
      connectionId,
      room,
      state,
      stream,
      since,
      already,
      budget,
    );
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
   * `exceptId`, on every instance. The sender need not be a member.
   *
   * A room without history: rejects with `UNAVAILABLE` when the bus cannot take the message
   * (the local members have received it by then). A room with history: the message is
   * appended first and carries its `offset`; when the store cannot take it, rejects with
   * `UNAVAILABLE` and nobody receives it.
   */
  async publish({
    room,
    from,
    data,
    exceptId,
  }: RoomMessage): Promise<PublishReceipt> {
    assertRoomName(room);
    const state = this.rooms.get(room);
    const retention = state?.stream?.retention ?? this.history.retention(room);
    if (retention.size > 0)
      return this.publishToStream(room, from, data, exceptId, retention);
    const frame = JSON.stringify({
      event: 'message',
      data: { room, from, data: data === undefined ? null : data },
    });
    let recipients = 0;
    if (state) {
      recipients = this.local.sendToEach(
        state.members,
        frame,
        exceptId,
        'message',
      );
      this.delivered(state, frame);
    }
    this.metrics?.fannedOut('room', recipients);
    const remote = await this.fanOut.publish(
      roomChannel(room),
      { exceptId, frame },
      () =>
        `the message reached ${recipients} member(s) here but not the other instances`,
    );
    return { room, recipients, instances: 1 + remote };
  }

  private async publishToStream(
    room: string,
    from: string,
    data: unknown,
    exceptId: string | undefined,
    retention: Retention,
  ): Promise<PublishReceipt> {
    const appended = await this.history.append(
      room,
      from,
      data,
      exceptId,
      retention,
      this.rooms.has(room),
    );
    const state = this.rooms.get(room);
    let recipients = 0;
    if (state?.stream) {
      recipients =
        state.members.size -
        (exceptId !== undefined && state.members.has(exceptId) ? 1 : 0);
      state.stream.sequencer.accept({ ...appended, exceptId });
    }
    this.metrics?.fannedOut('room', recipients);
    return {
      room,
      recipients,
      instances: 1 + appended.receivers,
      offset: appended.offset,
      epoch: appended.epoch,
    };
  }

  /** The room's state, made (and subscribed, and its stream started) for its first member. */
  private roomState(room: string): RoomState {
    let state = this.rooms.get(room);
    if (state) return state;
    const retention = this.history.retention(room);
    const stream: RoomStream | undefined =
      retention.size > 0
        ? {
            retention,
            joining: new Map(),
            sequencer: new RoomSequencer(
              {
                deliver: (message) => this.deliverLive(room, message),
                fill: (epoch, after, limit) =>
                  this.history.fill(room, epoch, after, limit, retention),
              },
              this.history.recoveryLimit,
            ),
          }
        : undefined;
    state = {
      members: new Set(),
      messages: 0,
      stream,
      subscription: this.fanOut.subscribe(roomChannel(room), (message) =>
        this.deliverRemote(room, message),
      ),
    };
    this.rooms.set(room, state);
    return state;
  }

  /**
   * Brings a joining connection to the room's present: its live messages wait while the store
   * is read (for the position, or for the messages after `since`), then the connection gets
   * those after its position, once and in order, and becomes a live member.
   */
  private async catchUp(
    connectionId: string,
    room: string,
    state: RoomState,
    stream: RoomStream,
    since: StreamPosition | undefined,
    already: boolean,
    budget: ReplayBudget,
  ): Promise<JoinReply> {
    const catchUp = new CatchUp(connectionId, this.history.recoveryLimit);
    state.members.delete(connectionId);
    stream.joining.set(connectionId, catchUp);
    const stillJoining = () => stream.joining.get(connectionId) === catchUp;
    try {
      await state.subscription;
      // The sequencer's position is read before the joiner's, so every message after the
      // joiner's position reaches it live.
      await this.startStream(room, stream).catch((err: unknown) => {
        // A recovery that could not even start is one the store could not answer.
        if (since) this.metrics?.recovery('unavailable', 0);
        throw err;
      });
      const recovery = since
        ? await this.history.recover(room, since, stream.retention, budget)
        : {
            position: await this.history.position(room, stream.retention),
            recovered: false,
            messages: [],
          };
      if (catchUp.lost)
        throw GatewayError.unavailable(
          `room "${room}" had more messages while this connection joined than it can catch up on`,
        );
      if (stillJoining()) {
        this.local.replay(
          connectionId,
          catchUp.merge(recovery.position, recovery.messages),
          'message',
        );
        // The store can answer ahead of this instance's sequencer (the bus brings the same
        // messages a moment later): a connection that was sent them stays with its catch-up,
        // which skips them, until the sequencer has passed them (see deliverLive).
        if (!catchUp.ahead(stream.sequencer.position)) {
          stream.joining.delete(connectionId);
          state.members.add(connectionId);
        }
      }
      return since
        ? { room, ...recovery.position, recovered: recovery.recovered }
        : { room, ...recovery.position };
    } catch (err) {
      if (!stillJoining()) throw err;
      stream.joining.delete(connectionId);
      const storeAway =
        err instanceof GatewayError && err.code === ErrorCode.UNAVAILABLE;
      if (already || (storeAway && !since)) {
        // A member stays one; a plain join while the store is away joins without a position
        // (the room is started when the store returns). A recovery is never claimed unchecked.
        state.members.add(connectionId);
        if (storeAway && !since) return { room };
      } else {
        this.leave(connectionId, room);
      }
      throw err;
    }
  }

  /** Reads the room's position once to start its sequencer; rejects while the store is away. */
  private startStream(room: string, stream: RoomStream): Promise<void> {
    if (stream.sequencer.started) return Promise.resolve();
    stream.starting ??= this.history
      .position(room, stream.retention)
      .then((position) => stream.sequencer.start(position))
      .finally(() => {
        stream.starting = undefined;
      });
    return stream.starting;
  }

  /** Starts the streams the store could not be read for, and catches up after a bus outage. */
  private checkStreams(): void {
    const busReady = this.bus.isReady();
    const busReturned = busReady && !this.busWasReady;
    this.busWasReady = busReady;
    for (const [room, state] of this.rooms) {
      const stream = state.stream;
      if (!stream) continue;
      if (!stream.sequencer.started)
        this.startStream(room, stream).catch(() => undefined);
      else if (busReturned) void stream.sequencer.catchUp();
    }
  }

  private removeMember(connectionId: string, room: string): void {
    const state = this.rooms.get(room);
    if (!state) return;
    const wasMember =
      state.members.delete(connectionId) ||
      state.stream?.joining.delete(connectionId) === true;
    if (!wasMember) return;
    const connection = this.local.info(connectionId);
    if (connection) this.events.emit('left', connection, room);
    this.releaseIfIdle(room, state);
  }

  /** Drops the room's state, and its subscription, once nobody here follows it. */
  private releaseIfIdle(room: string, state: RoomState): void {
    if (
      state.members.size > 0 ||
      (state.stream?.joining.size ?? 0) > 0 ||
      state.taps ||
      this.rooms.get(room) !== state
    )
      return;
    this.rooms.delete(room);
    state.stream?.sequencer.stop();
    this.fanOut.unsubscribe(roomChannel(room)).catch((err: unknown) => {
      this.logger.warn({ err, room }, 'room unsubscribe failed');
    });
  }

  /** A room message in its turn: to the live members, and kept for those catching up. */
  private deliverLive(room: string, message: SequencedMessage): void {
    const state = this.rooms.get(room);
    if (!state) return;
    if (state.members.size > 0)
      this.local.sendToEach(
        state.members,
        message.frame,
        message.exceptId,
        'message',
      );
    this.delivered(state, message.frame);
    const joining = state.stream?.joining;
    if (!joining?.size) return;
    for (const [connectionId, catchUp] of joining) {
      if (!catchUp.merged) {
        catchUp.add(message);
        continue;
      }
      // Caught up, but ahead of the sequencer: what it was sent already is not sent again.
      const turn = catchUp.follow(message);
      if (turn === 'skip') continue;
      joining.delete(connectionId);
      state.members.add(connectionId);
      if (turn === 'send' && message.exceptId !== connectionId)
        this.local.sendTo(connectionId, message.frame, 'message');
    }
  }

  private deliverRemote(room: string, message: BusMessage): void {
    const state = this.rooms.get(room);
    if (!state) return;
    if (
      state.stream &&
      message.offset !== undefined &&
      message.epoch !== undefined
    ) {
      // A bus message with a position is a sequenced message as it is: no copy per message.
      state.stream.sequencer.accept(message as SequencedMessage);
      return;
    }
    this.local.sendToEach(
      state.members,
      message.frame,
      message.exceptId,
      'message',
    );
    this.delivered(state, message.frame);
  }

  /** Counts a message the room delivered here, and shows it to the taps. */
  private delivered(state: RoomState, frame: string): void {
    state.messages++;
    if (state.taps) for (const tap of state.taps) tap(frame);
  }
}
