import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type {
  ErrorPayload,
  PresenceReply,
  PresenceView,
} from '../../protocol/frames.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import type { Principal } from '../auth/principal.js';
import { FanOut } from '../bus/fan-out.js';
import { MESSAGE_BUS, type MessageBus } from '../bus/message-bus.js';
import type { ConnectionInfo } from '../connections/connection.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import {
  LOCAL_DELIVERY,
  type LocalDelivery,
} from '../connections/local-delivery.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { INSTANCE_ID } from '../instance-id.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import {
  PresenceBatcher,
  type PresenceCount,
  type PresenceDiff,
} from './presence-batcher.js';
import {
  PRESENCE_STORE,
  presenceChannel,
  type PresenceChange,
  type PresenceMember,
  type PresenceStore,
} from './presence-store.js';

/** Largest `info` a member may carry, as JSON. */
export const MAX_INFO_BYTES = 1_024;

/**
 * Heartbeats, once the store and the bus work again, before the subscribed rooms are read again
 * (changes may have been missed meanwhile, a Redis restarted empty lost every leave): the first
 * one lets every instance announce its members again, so that the lists are not set right against
 * a store still being filled.
 */
const RESYNC_BEATS = 2;

type Member = Omit<PresenceMember, 'connections'>;

/** A member's part on this instance: its connections in one room. */
interface LocalMember {
  info: Record<string, unknown>;
  connections: Set<string>;
  /** The store's write of this member's count, chained so that writes keep their order. */
  pending: Promise<unknown>;
}

/**
 * A room's first subscriber here, under way: the bus channel is listened on before the store is
 * read, and the changes heard until the room is tracked are kept for the batcher.
 */
interface Starting {
  /** The bus subscription (it settles once the bus hears the channel). */
  ready: Promise<void>;
  /** Changes heard meanwhile, by the bus or the store's replies. */
  heard: PresenceChange[];
  /** Subscribers waiting for it. */
  waiting: number;
}

const unavailable = (room: string) =>
  GatewayError.unavailable(`the presence of room "${room}" cannot be reached`);

/**
 * Who is in which room. Each instance tells the presence store how many connections each
 * principal has in each room here (from the rooms' `joined` and `left` events); the store adds
 * the instances up and reports when a member joins (its first connection anywhere) or leaves
 * (its last). Connections that asked for presence receive those changes batched per tick
 * (`PresenceBatcher`), so a mass reconnect costs each of them a few diffs, not one per member.
 *
 * This instance's part is refreshed every third of `ttlMs` (and so announced again after the
 * store lost it); the parts of an instance that died expire and are swept.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Gateway');
  /** room -> member id -> its connections here */
  private readonly local = new Map<string, Map<string, LocalMember>>();
  /** room -> connections here that receive its presence changes */
  private readonly subscribers = new Map<string, Set<string>>();
  /** room -> its first subscriber here, under way (not in `subscribers` yet) */
  private readonly starting = new Map<string, Starting>();
  private readonly batcher: PresenceBatcher;
  private readonly fanOut: FanOut;
  private heartbeat: NodeJS.Timeout | undefined;
  private refreshing = false;
  /** Heartbeats until the subscribed rooms are read again; 0: none due. */
  private resyncIn = 0;

  constructor(
    @Inject(PRESENCE_STORE) private readonly store: PresenceStore,
    @Inject(LOCAL_DELIVERY) private readonly delivery: LocalDelivery,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(INSTANCE_ID) instanceId: string,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly events: GatewayEvents,
    @Optional() metrics?: GatewayMetrics,
  ) {
    this.fanOut = new FanOut(bus, instanceId, metrics);
    this.batcher = new PresenceBatcher({
      tickMs: options.presence.tickMs,
      maxMembers: options.presence.maxMembers,
      send: (room, payload) => this.push(room, payload),
    });
  }

  onModuleInit(): void {
    if (!this.options.presence.enabled) return;
    this.events.on('joined', (connection, room) =>
      this.connected(connection, room),
    );
    // A closing connection leaves each of its rooms first (a `left` per room), which also ends
    // its presence subscriptions: only members are subscribed.
    this.events.on('left', (connection, room) =>
      this.disconnected(connection, room),
    );
    this.heartbeat = setInterval(
      () => void this.beat(),
      Math.max(100, Math.floor(this.options.presence.ttlMs / 3)),
    );
    this.heartbeat.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
    this.batcher.close();
  }

  /**
   * The room's members (or only their count past `maxMembers`, or with `countOnly`). Rejects
   * with `UNAVAILABLE` when the store cannot be read.
   */
  async view(room: string, countOnly = false): Promise<PresenceView> {
    this.requireEnabled();
    const max = this.options.presence.maxMembers;
    let snapshot;
    try {
      snapshot = await this.store.list(room, countOnly ? 0 : max + 1);
    } catch {
      throw unavailable(room);
    }
    if (countOnly || snapshot.count > max) return { count: snapshot.count };
    return { members: snapshot.members, count: snapshot.count };
  }

  /**
   * Sends the room's presence changes to a connection in the room from now on (until it leaves
   * the room), and answers the room's members as they are (its own membership included).
   * Rejects with `UNAVAILABLE` (the connection is then not subscribed).
   */
  async subscribe(
    connection: ConnectionInfo,
    room: string,
  ): Promise<PresenceView> {
    this.requireEnabled();
    // The connection's own join was written first, so that it sees itself.
    await this.local.get(room)?.get(connection.principal.subject)?.pending;
    const max = this.options.presence.maxMembers;
    // A room's first subscriber here listens on the room's channel before reading the store:
    // a change published between the read and the subscription would reach nobody here.
    let start: Starting | undefined;
    if (!this.subscribers.has(room)) {
      start = this.starting.get(room);
      if (!start) {
        start = {
          ready: this.fanOut
            .subscribe(presenceChannel(room), (message) =>
              this.received(message.frame),
            )
            .catch(() => undefined),
          heard: [],
          waiting: 0,
        };
        this.starting.set(room, start);
      }
      start.waiting++;
      await start.ready;
    }
    let snapshot;
    try {
      snapshot = await this.store.list(room, max + 1);
    } catch {
      if (start) this.abandon(room, start);
      throw unavailable(room);
    }
    const view: PresenceView =
      snapshot.count > max
        ? { count: snapshot.count }
        : { members: snapshot.members, count: snapshot.count };
    // Leaving the room ends a subscription: a connection that left it, or closed, meanwhile
    // gets none (it would stay subscribed, and the room tracked, for good).
    if (!this.isLocalMember(connection, room)) {
      if (start) this.abandon(room, start);
      return view;
    }
    if (start) start.waiting--;
    let set = this.subscribers.get(room);
    if (!set) {
      // Tracked when checked, and untracked again meanwhile: listen again.
      if (!start || this.starting.get(room) !== start)
        return this.subscribe(connection, room);
      this.starting.delete(room);
      set = new Set();
      this.subscribers.set(room, set);
      this.batcher.start(room, snapshot);
      // Those the snapshot has already are ignored by their version.
      for (const change of start.heard) this.batcher.accept(change);
    }
    set.add(connection.id);
    return view;
  }

  /** A first subscriber that will not be one: the last of them lets the channel go. */
  private abandon(room: string, start: Starting): void {
    if (--start.waiting === 0 && this.starting.get(room) === start) {
      this.starting.delete(room);
      this.fanOut.unsubscribe(presenceChannel(room)).catch(() => undefined);
    }
  }

  /**
   * {@link subscribe} for a join's reply: the view, or the error that kept the connection from
   * being subscribed (the join itself stands).
   */
  async subscribeForReply(
    connection: ConnectionInfo,
    room: string,
  ): Promise<PresenceView | { error: ErrorPayload }> {
    try {
      return await this.subscribe(connection, room);
    } catch (err) {
      if (err instanceof GatewayError)
        return { error: { code: err.code, message: err.message } };
      throw err;
    }
  }

  /**
   * Answers a `presence` request whose `presence` permission the caller checked: where no policy
   * was configured (`unrestricted`), only for the room's members.
   */
  async ask(
    connection: ConnectionInfo,
    room: string,
    countOnly: boolean,
    unrestricted: boolean,
  ): Promise<PresenceReply> {
    this.requireEnabled();
    if (unrestricted && !this.isLocalMember(connection, room))
      throw GatewayError.forbidden(
        `only members of room "${room}" may see who is in it`,
      );
    return { room, ...(await this.view(room, countOnly)) };
  }

  /** Stops sending the room's presence changes to a connection. */
  unsubscribe(connectionId: string, room: string): void {
    const set = this.subscribers.get(room);
    if (set?.delete(connectionId) && set.size === 0) this.untrack(room);
  }

  /** Whether a local connection is in the room (for the default `presence` permission). */
  isLocalMember(connection: ConnectionInfo, room: string): boolean {
    return (
      this.local
        .get(room)
        ?.get(connection.principal.subject)
        ?.connections.has(connection.id) === true
    );
  }

  /** The public info of a principal: the host's function, else the configured claims. */
  infoOf(principal: Principal): Record<string, unknown> {
    const { info, infoClaims } = this.options.presence;
    let value: Record<string, unknown> = {};
    if (info) value = info(principal) ?? {};
    else if (infoClaims.length > 0 && principal.claims)
      for (const claim of infoClaims)
        if (principal.claims[claim] !== undefined)
          value[claim] = principal.claims[claim];
    const json = JSON.stringify(value);
    if (json === undefined || Buffer.byteLength(json) > MAX_INFO_BYTES) {
      this.logger.warn(
        { subject: principal.subject },
        `presence info over ${MAX_INFO_BYTES} bytes: left empty`,
      );
      return {};
    }
    return value;
  }

  private requireEnabled(): void {
    if (!this.options.presence.enabled)
      throw GatewayError.badRequest('presence is turned off on this gateway');
  }

  private connected(connection: ConnectionInfo, room: string): void {
    const id = connection.principal.subject;
    let members = this.local.get(room);
    if (!members) {
      members = new Map();
      this.local.set(room, members);
    }
    let member = members.get(id);
    if (!member) {
      member = {
        info: this.infoOf(connection.principal),
        connections: new Set(),
        pending: Promise.resolve(),
      };
      members.set(id, member);
    }
    member.connections.add(connection.id);
    this.write(room, id, member);
  }

  private disconnected(connection: ConnectionInfo, room: string): void {
    this.unsubscribe(connection.id, room);
    const id = connection.principal.subject;
    const members = this.local.get(room);
    const member = members?.get(id);
    if (!member?.connections.delete(connection.id)) return;
    this.write(room, id, member);
    if (member.connections.size === 0) {
      members!.delete(id);
      if (members!.size === 0) this.local.delete(room);
    }
  }

  /** Writes a member's count to the store after its earlier writes. */
  private write(room: string, id: string, member: LocalMember): void {
    const count = member.connections.size;
    const self: Member = { id, info: member.info };
    member.pending = member.pending.then(() =>
      this.store.set(room, self, count).then(
        (change) => {
          if (change) this.take(change);
        },
        // The store is away: the next heartbeat writes every member again.
        () => {
          this.resyncIn = RESYNC_BEATS;
        },
      ),
    );
  }

  private received(frame: string): void {
    let change: PresenceChange;
    try {
      change = JSON.parse(frame) as PresenceChange;
    } catch {
      return;
    }
    this.take(change);
  }

  /** A change for the room's subscribers here, or for those about to be. */
  private take(change: PresenceChange): void {
    if (this.subscribers.has(change.room)) this.batcher.accept(change);
    else this.starting.get(change.room)?.heard.push(change);
  }

  private push(room: string, payload: PresenceDiff | PresenceCount): void {
    const set = this.subscribers.get(room);
    if (!set?.size) return;
    this.delivery.sendToEach(
      set,
      JSON.stringify({ event: 'presence', data: payload }),
      undefined,
      'presence',
    );
  }

  private untrack(room: string): void {
    this.subscribers.delete(room);
    this.batcher.stop(room);
    this.fanOut.unsubscribe(presenceChannel(room)).catch(() => undefined);
  }

  /** Reads every subscribed room again, and sends its subscribers what they missed. */
  private async resync(): Promise<void> {
    const limit = this.options.presence.maxMembers + 1;
    for (const room of this.subscribers.keys())
      this.batcher.resync(room, await this.store.list(room, limit));
  }

  /**
   * Keeps this instance's part alive (and announced again), and sweeps what others left; after
   * the store or the bus was away, sets the subscribers' lists right.
   */
  private async beat(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    if (!this.bus.isReady()) this.resyncIn = RESYNC_BEATS;
    try {
      const parts = new Map<string, Map<string, PresenceMember>>();
      for (const [room, members] of this.local) {
        const part = new Map<string, PresenceMember>();
        for (const [id, member] of members)
          part.set(id, {
            id,
            info: member.info,
            connections: member.connections.size,
          });
        parts.set(room, part);
      }
      const changes = await this.store.refresh(parts);
      for (const change of changes) this.take(change);
      for (const room of this.subscribers.keys())
        for (const change of await this.store.sweep(room)) this.take(change);
      if (this.resyncIn > 0 && --this.resyncIn === 0) await this.resync();
    } catch (err) {
      this.resyncIn = RESYNC_BEATS;
      this.logger.debug(
        { err: (err as Error).message },
        'presence refresh failed',
      );
    } finally {
      this.refreshing = false;
    }
  }
}
