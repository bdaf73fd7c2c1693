import { HttpException, HttpStatus } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { ErrorPayload } from '../../protocol/frames.js';
import { GatewayError } from '../../protocol/gateway-error.js';

/** An error frame's payload, and whether the cause was unexpected (and so must be logged). */
export interface MappedError {
  payload: ErrorPayload;
  unexpected: boolean;
}

const INTERNAL: ErrorPayload = Object.freeze({
  code: ErrorCode.INTERNAL,
  message: 'internal error',
});

const VALID_CODES = new Set<string>(Object.values(ErrorCode));

function fromHttpStatus(status: number): ErrorCode {
  if (status === HttpStatus.UNAUTHORIZED) return ErrorCode.UNAUTHORIZED;
  if (status === HttpStatus.FORBIDDEN) return ErrorCode.FORBIDDEN;
  if (status === HttpStatus.TOO_MANY_REQUESTS) return ErrorCode.RATE_LIMITED;
  if (status === HttpStatus.SERVICE_UNAVAILABLE) return ErrorCode.UNAVAILABLE;
  if (status >= 400 && status < 500) return ErrorCode.BAD_REQUEST;
  return ErrorCode.INTERNAL;
}

/**
 * The one place where a thrown value becomes a protocol error. {@link GatewayError} carries its
 * code; Nest's own exceptions (a guard's refusal, `HttpException`s such as the stock
 * `ValidationPipe`'s 400) are translated; anything else is `INTERNAL`, with no detail sent.
 */
export function mapError(error: unknown): MappedError {
  if (error instanceof GatewayError) {
    const payload: ErrorPayload = { code: error.code, message: error.message };
    if (error.details?.length) payload.details = error.details;
    return { payload, unexpected: false };
  }
  if (error instanceof WsException) {
    const body = error.getError();
    if (typeof body === 'object' && body !== null) {
      const { code, message } = body as { code?: unknown; message?: unknown };
      if (typeof code === 'string' && VALID_CODES.has(code)) {
        return {
          payload: {
            code: code as ErrorCode,
            message: typeof message === 'string' ? message : code,
          },
          unexpected: false,
        };
      }
    }
    const message = typeof body === 'string' ? body : error.message;
    // Nest's guard consumer throws this exact message when a guard returns false.
    const code =
      message === 'Forbidden resource'
        ? ErrorCode.FORBIDDEN
        : ErrorCode.BAD_REQUEST;
    return { payload: { code, message }, unexpected: false };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = fromHttpStatus(status);
    if (code === ErrorCode.INTERNAL)
      return { payload: INTERNAL, unexpected: true };
    const response = error.getResponse();
    const messages =
      typeof response === 'object' && response !== null
        ? (response as { message?: unknown }).message
        : undefined;
    const payload: ErrorPayload = { code, message: error.message };
    if (Array.isArray(messages)) {
      payload.details = messages.map((m) => ({
        field: '',
        message: String(m),
      }));
    }
    return { payload, unexpected: false };
  }
  return { payload: INTERNAL, unexpected: true };
}
