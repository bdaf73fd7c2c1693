import type { ErrorCode } from './error-codes.js';

/** A request id: whatever the client chose, echoed back on the reply or error frame. */
export type RequestId = string | number;

/** A frame as either side sends it: `{"event": string, "data"?: any, "id"?: string | number}`. */
export interface Frame<T = unknown> {
  event: string;
  data?: T;
  id?: RequestId;
}

/** One field that failed validation, as listed in a `BAD_REQUEST` frame's `details`. */
export interface ErrorDetail {
  /** Dotted path of the field inside `data` (`""` for `data` itself or the envelope). */
  field: string;
  /** Why it was refused, in words a client developer can act on. */
  message: string;
}

/** The `data` of an error frame. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: readonly ErrorDetail[];
}

/** `{"event":<event>,"data":<data>,"id"?:<id>}`: the reply to a request, serialized once. */
export function replyFrame(
  event: string,
  data: unknown,
  id: RequestId | undefined,
): string {
  return JSON.stringify(
    id === undefined ? { event, data } : { event, data, id },
  );
}

/** `{"event":"error","data":{code,message,details?},"id"?:<id>}`. */
export function errorFrame(
  payload: ErrorPayload,
  id: RequestId | undefined,
): string {
  return JSON.stringify(
    id === undefined
      ? { event: 'error', data: payload }
      : { event: 'error', data: payload, id },
  );
}

/** The answer to a plain-text frame, as the python-websockets tutorial's server gives it. */
export function plainTextReply(text: string): string {
  return `server received: ${text}`;
}

/** The `data` of a `broadcast` push: another client's broadcast. */
export interface BroadcastPush<T = unknown> {
  from: string;
  data: T;
}

/** The `data` of a `message` push: someone published to a room this client is in. */
export interface RoomMessagePush<T = unknown> {
  room: string;
  from: string;
  data: T;
}

/** The reply to `broadcast`. */
export interface BroadcastReceipt {
  /** Clients of the sender's instance it was sent to. */
  recipients: number;
  /** Instances it reached, the sender's included. */
  instances: number;
}

/** The reply to `publish`. */
export interface PublishReceipt extends BroadcastReceipt {
  room: string;
  /** The message's offset in the room's stream, when the room keeps history. */
  offset?: number;
  /** The life of the stream `offset` counts in. */
  epoch?: string;
}

// History and recovery (docs/protocol.md, "History and recovery"): new types only.

/**
 * Where a reader is in a room's stream: the offset of the last message it has (0: none yet), in
 * one life (`epoch`) of the stream. A position of another epoch says nothing about this one.
 */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** A room message with its place in the room's stream: a `message` push of a room with history. */
export interface RoomMessage<T = unknown> extends RoomMessagePush<T> {
  offset: number;
}

/** The `data` of `join`: `since` asks for the messages after that position (a recovery). */
export interface JoinRequest {
  room: string;
  since?: StreamPosition;
  /** Ask for the room's members in the reply, and its presence changes from then on. */
  presence?: boolean;
}

/**
 * The reply to `join`: `{room}` for a room without history; else the room's newest offset and its
 * epoch, and, when the request had `since`, whether every message after it was sent (before this
 * reply).
 */
export interface JoinReply {
  room: string;
  offset?: number;
  epoch?: string;
  recovered?: boolean;
  /** With `presence: true`: the room's members now, or why they could not be read. */
  presence?: PresenceView | { error: ErrorPayload };
}

/** The `data` of `resume`: join every listed room as `join` would, in one round trip. */
export interface ResumeRequest {
  rooms: JoinRequest[];
}

/** One room of a `resume` reply that could not be joined (`FORBIDDEN`, `UNAVAILABLE`). */
export interface ResumeFailure {
  room: string;
  error: ErrorPayload;
}

/** One room of a `resume` reply: joined (as `join` replies), or refused. */
export type ResumeResult = JoinReply | ResumeFailure;

/** The reply to `resume`: one result per room, in the order asked. */
export interface ResumeReply {
  rooms: ResumeResult[];
}

/** The `data` of `history`: the kept messages after `since` (else the newest), at most `limit`. */
export interface HistoryRequest {
  room: string;
  since?: StreamPosition;
  limit?: number;
}

/** The reply to `history`: the room's position now, and kept messages, oldest first. */
export interface HistoryReply<T = unknown> extends StreamPosition {
  room: string;
  messages: Array<RoomMessage<T>>;
}

// Presence (docs/protocol.md, "Presence").

/** A member of a room: a principal with the public info the server gives it. */
export interface PresenceMember<I = Record<string, unknown>> {
  id: string;
  info: I;
  /** Its connections in the room, over every instance. */
  connections: number;
}

/** A room's members (absent past the server's listing limit) and their count. */
export interface PresenceView {
  members?: PresenceMember[];
  count: number;
}

/** The `data` of `presence`: the room's members, or with `countOnly` only their count. */
export interface PresenceRequest {
  room: string;
  countOnly?: boolean;
}

/** The reply to `presence`. */
export interface PresenceReply extends PresenceView {
  room: string;
}

/**
 * The `data` of a `presence` push: members that joined and left since the last one, or, for a
 * room too large to list, its count.
 */
export type PresencePush =
  | {
      room: string;
      joined: Array<Omit<PresenceMember, 'connections'>>;
      left: Array<Omit<PresenceMember, 'connections'>>;
    }
  | { room: string; count: number };
