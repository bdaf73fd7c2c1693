import { ErrorCode } from './error-codes.js';
import type { ErrorDetail } from './frames.js';

/**
 * An error a handler or service throws to answer the request with an error frame. The
 * exception filter turns it into `{"event":"error","data":{"code","message","details"?}}`
 * with the request's id; the connection stays open.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: readonly ErrorDetail[],
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  static badRequest(message: string, details?: readonly ErrorDetail[]) {
    return new GatewayError(ErrorCode.BAD_REQUEST, message, details);
  }

  static unknownEvent(event: string) {
    return new GatewayError(
      ErrorCode.UNKNOWN_EVENT,
      `no handler for event "${event}"`,
    );
  }

  static unauthorized(message = 'not authenticated') {
    return new GatewayError(ErrorCode.UNAUTHORIZED, message);
  }

  static forbidden(message = 'not allowed') {
    return new GatewayError(ErrorCode.FORBIDDEN, message);
  }

  static unavailable(message: string) {
    return new GatewayError(ErrorCode.UNAVAILABLE, message);
  }
}
