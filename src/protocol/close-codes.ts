/**
 * WebSocket close codes (RFC 6455 section 7.4, plus 4401 of the gateway's own): those the gateway
 * sends, and the two a client sees without the gateway sending them (1006, 1012).
 */
export const CloseCode = {
  NORMAL: 1000,
  /** The server is shutting down: clients should reconnect elsewhere. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** A binary frame where only text is accepted. */
  UNSUPPORTED_DATA: 1003,
  /** No close frame came: the connection dropped (what browsers and `ws` report; never sent). */
  ABNORMAL: 1006,
  /** A text frame that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** Policy: the rate limit was abused past the error frames. */
  POLICY_VIOLATION: 1008,
  /** A frame over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** A server restarting (some proxies send it); the gateway itself drains with 1001. */
  SERVICE_RESTART: 1012,
  /** The client reads too slowly: its send buffer passed the limit. */
  TRY_AGAIN_LATER: 1013,
  /** The token expired during the connection. */
  TOKEN_EXPIRED: 4401,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** What each close code means to a client, in the words the protocol's docs use. */
export const CLOSE_CODE_MEANINGS: Readonly<Record<CloseCode, string>> = {
  [CloseCode.NORMAL]:
    'a normal close (the client, or an operator from the console)',
  [CloseCode.GOING_AWAY]:
    'the server is shutting down: reconnect, to another instance',
  [CloseCode.PROTOCOL_ERROR]: 'a WebSocket protocol error',
  [CloseCode.UNSUPPORTED_DATA]: 'a binary frame: only text frames are accepted',
  [CloseCode.ABNORMAL]:
    'no close frame came: the connection dropped (never sent)',
  [CloseCode.INVALID_PAYLOAD]: 'a text frame that is not valid UTF-8',
  [CloseCode.POLICY_VIOLATION]:
    'the rate limit was abused past its error frames',
  [CloseCode.MESSAGE_TOO_BIG]: 'a frame over the size limit',
  [CloseCode.INTERNAL_ERROR]: 'an internal error',
  [CloseCode.SERVICE_RESTART]:
    'a proxy says the server restarts (the gateway drains with 1001)',
  [CloseCode.TRY_AGAIN_LATER]:
    'the client reads too slowly: its send buffer passed the limit',
  [CloseCode.TOKEN_EXPIRED]: 'the token expired during the connection',
};
