import type {
  ErrorCode,
  ErrorDetail,
  ErrorPayload,
  RequestId,
} from '../protocol/index.js';

/**
 * The base of every error the client throws or rejects with, so an app can tell the client's
 * failures from its own with one `instanceof`.
 */
export class GatewayClientError extends Error {
  override name = 'GatewayClientError';
}

/**
 * The server answered a request with an error frame. `code` is the protocol's error code
 * (`BAD_REQUEST`, `FORBIDDEN`, `RATE_LIMITED`, ...); the connection is still usable.
 */
export class RequestError extends GatewayClientError {
  override name = 'RequestError';
  readonly code: ErrorCode;
  readonly details?: readonly ErrorDetail[];

  constructor(
    payload: ErrorPayload,
    readonly event: string,
    readonly id: RequestId,
  ) {
    super(`${event}: ${payload.code}: ${payload.message}`);
    this.code = payload.code;
    this.details = payload.details;
  }
}

/** No reply came within the request's `timeoutMs`; a reply that comes later is dropped. */
export class RequestTimeoutError extends GatewayClientError {
  override name = 'RequestTimeoutError';

  constructor(
    readonly event: string,
    readonly id: RequestId,
    readonly timeoutMs: number,
  ) {
    super(`${event}: no reply within ${timeoutMs} ms`);
  }
}

/**
 * The connection closed before the request was answered (or before it could be sent, when the
 * client gave up reconnecting or was closed). A request in flight at a drop is never sent again:
 * the server may or may not have carried it out.
 */
export class ConnectionClosedError extends GatewayClientError {
  override name = 'ConnectionClosedError';

  constructor(
    /** The close code (1006 when the connection dropped without a close frame). */
    readonly closeCode: number,
    readonly closeReason: string,
  ) {
    super(
      `connection closed (${closeCode}${closeReason ? ` ${closeReason}` : ''})`,
    );
  }
}

/**
 * The server refused the WebSocket handshake with an HTTP status (401: no or a wrong token; 403:
 * origin not allowed; 429: the token or address holds its cap of connections; 503: draining or
 * full). Only known where the transport exposes the status
 * (`ws` in Node); a browser reports a refused handshake as a close with 1006.
 */
export class HandshakeRefusedError extends GatewayClientError {
  override name = 'HandshakeRefusedError';

  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

/** A send while disconnected found the queue full (`maxQueuedMessages`). */
export class QueueFullError extends GatewayClientError {
  override name = 'QueueFullError';

  constructor(readonly limit: number) {
    super(`not connected and ${limit} messages already queued`);
  }
}
