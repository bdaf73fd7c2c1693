// The shapes of docs/console.md, as the server sends them.

export type Role = 'admin' | 'viewer';

export interface Session {
  user: string;
  role: Role;
  csrf: string;
  expiresAt: number;
}

export interface Instance {
  id: string;
  version: string;
  startedAt: number;
  uptimeSec: number;
  connections: number;
  rooms: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  errorsPerSec: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
  bufferedBytes: number;
  maxBufferedRatio: number;
  bus: 'ready' | 'down' | 'memory';
  draining: boolean;
  lastSeen: number;
  gone: boolean;
}

export type Point = [
  at: number,
  connections: number,
  inPerSec: number,
  outPerSec: number,
  errorsPerSec: number,
];

export type Series = Record<string, Point[]>;

export interface InstancesAnswer {
  self: string;
  intervalMs: number;
  instances: Instance[];
  series?: Series;
}

export interface Room {
  name: string;
  members: number;
  instances: number;
  presence?: number;
  messagesPerSec: number;
  history?: { offset?: number; size: number; ttlMs: number };
}

export interface RoomsAnswer {
  rooms: Room[];
  total: number;
  partial: boolean;
}

export interface Connection {
  id: string;
  instance: string;
  principal: string;
  remoteAddress: string;
  openedAt: number;
  rooms: string[];
  messagesIn: number;
  messagesOut: number;
  bufferedBytes: number;
  lastHeartbeatAt?: number;
  path: string;
}

export interface ConnectionsAnswer {
  connections: Connection[];
  total: number;
  partial: boolean;
}

export interface ErrorEntry {
  at: number;
  instance: string;
  code: string;
  event?: string;
  principal?: string;
  connectionId?: string;
}

export interface ErrorsAnswer {
  errors: ErrorEntry[];
  partial: boolean;
}

export interface PublishAnswer {
  room: string;
  recipients: number;
  instances: number;
  offset?: number;
  epoch?: string | number;
}

export interface BroadcastAnswer {
  recipients: number;
  instances: number;
}

export interface Hello {
  user: string;
  role: Role;
  self: string;
  intervalMs: number;
  series: Series;
}

export interface InstancesFrame {
  at: number;
  instances: Instance[];
}

export interface TailFrame {
  room: string;
  at: number;
  from: string;
  offset?: number;
  bytes: number;
  data?: unknown;
}

export interface Envelope {
  event: string;
  data?: unknown;
  id?: string | number;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}
