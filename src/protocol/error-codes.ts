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

/** What each error code tells a client, in the words the protocol's docs use. */
export const ERROR_CODE_MEANINGS: Readonly<Record<ErrorCode, string>> = {
  BAD_REQUEST:
    'malformed or too deep JSON, no event, a bad id, or a payload that failed validation (details lists each field)',
  UNKNOWN_EVENT: 'no handler for that event',
  UNAUTHORIZED: "the connection's credential is no longer valid",
  FORBIDDEN:
    'the principal may not use this event (a missing scope, a refused room, one room too many)',
  RATE_LIMITED:
    "over the connection's message rate: slow down; a client that keeps flooding is closed with 1008",
  UNAVAILABLE:
    'the request could not be carried out right now (the message bus or a store is away): safe to retry',
  INTERNAL:
    'anything unexpected: the cause is logged on the server, never sent to the client',
};
