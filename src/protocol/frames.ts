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
}
