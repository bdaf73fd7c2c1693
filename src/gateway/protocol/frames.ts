import type { ErrorCode } from './error-codes.js';
import type { RequestId } from './envelope.js';
import type { ErrorDetail } from './gateway-error.js';

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
