/**
 * The web console's wire shapes: what its JSON API under `/console/api` answers and what its
 * WebSocket at `/console/ws` pushes. docs/console.md describes them ("HTTP API" and "The
 * console's WebSocket"). They are written once, here: the server builds them
 * (src/gateway/console, the error journal) and the console's page reads them
 * (console/src/types.ts imports these types), so a change to one side fails the other's type
 * check. Types only: nothing here runs, and the page's bundle gets none of it.
 *
 * @module
 */
import type { BroadcastReceipt, PublishReceipt } from './frames.js';

/** What a console user may do: `viewer` sees, `admin` also acts and sees message payloads. */
export type ConsoleRole = 'admin' | 'viewer';

// Instances and their charts.

/** One instance's numbers, as it publishes them every stats interval. */
export interface InstanceStats {
  readonly id: string;
  readonly version: string;
  readonly startedAt: number;
  readonly uptimeSec: number;
  readonly connections: number;
  readonly rooms: number;
  readonly messagesInPerSec: number;
  readonly messagesOutPerSec: number;
  readonly errorsPerSec: number;
  readonly bytesInPerSec: number;
  readonly bytesOutPerSec: number;
  /** Bytes queued in every socket's send buffer. */
  readonly bufferedBytes: number;
  /** The fullest connection's send buffer over `maxBufferedBytes`, from 0 to 1. */
  readonly maxBufferedRatio: number;
  readonly bus: 'ready' | 'down' | 'memory';
  readonly draining: boolean;
  /** How often the instance publishes these: the others judge its silence by it. */
  readonly intervalMs: number;
}

/** One instance as the console shows it: its last numbers, when they came, whether it is gone. */
export interface InstanceView extends InstanceStats {
  /** When the serving instance last heard from it, in ms since the epoch. */
  readonly lastSeen: number;
  readonly gone: boolean;
}

/** A chart point: time, connections, messages in/s, messages out/s, errors/s. */
export type SeriesPoint = [
  at: number,
  connections: number,
  inPerSec: number,
  outPerSec: number,
  errorsPerSec: number,
];

/** The kept points of each instance, by its id. */
export type Series = Record<string, SeriesPoint[]>;

/** `GET /instances`: the serving instance, every instance known, and with `?series=1` the series. */
export interface InstancesAnswer {
  self: string;
  intervalMs: number;
  instances: InstanceView[];
  series?: Series;
}

// Rooms, connections, errors.

/** A room as the console lists it, merged over the instances that have members in it. */
export interface RoomRow {
  name: string;
  /** Local members, summed over the instances. */
  members: number;
  /** Instances with members. */
  instances: number;
  /** Members by principal over the cluster, when presence is on and could be read. */
  presence?: number;
  messagesPerSec: number;
  history?: { offset?: number; size: number; ttlMs: number };
}

/** `partial`: an instance the console knows of did not answer in time (its rows are missing). */
export interface RoomsAnswer {
  rooms: RoomRow[];
  total: number;
  partial: boolean;
}

/** One connection as the console lists it. */
export interface ConnectionRow {
  id: string;
  instance: string;
  principal: string;
  remoteAddress: string;
  openedAt: number;
  rooms: string[];
  messagesIn: number;
  messagesOut: number;
  bufferedBytes: number;
  /** The last heartbeat ping the client answered. */
  lastHeartbeatAt?: number;
}

export interface ConnectionsAnswer {
  connections: ConnectionRow[];
  total: number;
  partial: boolean;
}

/** One error frame an instance sent: what and to whom, never a payload or a token. */
export interface ErrorEntry {
  /** When it was sent, in ms since the epoch. */
  readonly at: number;
  readonly code: string;
  /** The request's event, when the error answered one (a long name cut short). */
  readonly event?: string;
  readonly principal: string;
  readonly connectionId: string;
}

/** An error of an instance's journal, with the instance that sent it. */
export interface ErrorRow extends ErrorEntry {
  readonly instance: string;
}

export interface ErrorsAnswer {
  errors: ErrorRow[];
  partial: boolean;
}

// Sessions and actions.

/**
 * `GET /session`: who is logged in. `csrf` is a cookie session's (none with a bearer
 * credential); `expiresAt` is when the session ends (none for a console secret as bearer).
 */
export interface SessionAnswer {
  user: string;
  role: ConsoleRole;
  csrf?: string;
  expiresAt?: number;
}

/** `POST /login`: a cookie session, which has both its CSRF token and its end. */
export interface LoginAnswer extends SessionAnswer {
  csrf: string;
  expiresAt: number;
}

/** `POST /publish`: the receipt a client's own `publish` gets. */
export type PublishAnswer = PublishReceipt;

/** `POST /broadcast`: the receipt a client's own `broadcast` gets. */
export type BroadcastAnswer = BroadcastReceipt;

/** `POST /send`: false when no instance holds the connection. */
export interface SendAnswer {
  sent: boolean;
}

/** `POST /disconnect`: false when no instance holds the connection. */
export interface DisconnectAnswer {
  closed: boolean;
}

// The console's WebSocket: the `data` of what the server pushes.

/** `hello`, the first frame: who, the serving instance, the kept series and every instance. */
export interface HelloFrame {
  user: string;
  role: ConsoleRole;
  self: string;
  intervalMs: number;
  series: Series;
  instances: InstanceView[];
}

/** `instances`, every stats interval. */
export interface InstancesFrame {
  at: number;
  instances: InstanceView[];
}

/** `tail`: one message of the tailed room, its payload (`data`) for admins only. */
export interface TailFrame {
  room: string;
  at: number;
  from: string;
  offset?: number;
  /** The size of the message's frame. */
  bytes: number;
  /** Entries skipped so far while the console read too slowly. */
  dropped: number;
  data?: unknown;
}

/** What the console's WebSocket pushes: the `data` of each event. */
export interface ConsolePushes {
  hello: HelloFrame;
  instances: InstancesFrame;
  tail: TailFrame;
}
