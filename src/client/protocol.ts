/**
 * The wire protocol v1 as a client sees it: the few types and constants the client needs, with no
 * dependency at all, so the client bundles for a browser without pulling in Nest. The server's
 * own definitions live in `src/gateway/protocol/`; the two describe the same frames (DESIGN.md).
 */

/** A request id: chosen by the client, echoed back on the reply or error frame. */
export type RequestId = string | number;

/** A frame as either side sends it: `{"event": string, "data"?: any, "id"?: string | number}`. */
export interface Frame<T = unknown> {
  event: string;
  data?: T;
  id?: RequestId;
}

/** The protocol's error codes, carried in `{"event":"error","data":{"code":...}}` frames. */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One field that failed validation (`BAD_REQUEST`). */
export interface ErrorDetail {
  field: string;
  message: string;
}

/** The `data` of an error frame. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
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
}

/** Close codes the gateway sends (RFC 6455 section 7.4, plus 4401 of its own). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** No close frame came (the browser's and `ws`'s code for a dropped connection). */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  TOKEN_EXPIRED: 4401,
} as const;

/**
 * A text frame whose first non-blank character is `{` is an envelope; any other is plain text
 * (the python-websockets tutorial's `server received: ...`).
 */
export function isEnvelopeText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    return c === 123;
  }
  return false;
}

/** The frame a text parses to, or undefined for plain text (or JSON that is not a frame). */
export function parseFrame(text: string): Frame | undefined {
  if (!isEnvelopeText(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  const frame = value as Record<string, unknown>;
  if (typeof frame.event !== 'string') return undefined;
  const id = frame.id;
  return {
    event: frame.event,
    data: frame.data,
    id: typeof id === 'string' || typeof id === 'number' ? id : undefined,
  };
}
