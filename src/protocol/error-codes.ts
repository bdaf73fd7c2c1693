/**
 * The protocol's error codes, carried in `{"event":"error","data":{"code":...}}` frames.
 * An error frame never closes the connection by itself.
 */
export const ErrorCode = {
  /** Malformed JSON, no event, or failed validation (`details` lists the fields). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No handler is registered for the envelope's event. */
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  /** The connection's principal is missing or no longer valid. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The principal may not use this event. */
  FORBIDDEN: 'FORBIDDEN',
  /** The connection sent faster than its rate limit allows. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The request could not be carried out (the bus is down, or a handler failed). */
  UNAVAILABLE: 'UNAVAILABLE',
  /** Anything unexpected; the cause is logged on the server, never sent. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
