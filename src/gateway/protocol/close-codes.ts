/** WebSocket close codes the gateway sends (RFC 6455 section 7.4, plus 4401 of its own). */
export const CloseCode = {
  NORMAL: 1000,
  /** The server is shutting down: clients should reconnect elsewhere. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** A binary frame where only text is accepted. */
  UNSUPPORTED_DATA: 1003,
  /** A text frame that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** Policy: the rate limit was abused past the error frames. */
  POLICY_VIOLATION: 1008,
  /** A frame over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The client reads too slowly: its send buffer passed the limit. */
  TRY_AGAIN_LATER: 1013,
  /** The token expired during the connection. */
  TOKEN_EXPIRED: 4401,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
