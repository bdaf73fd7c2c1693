import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { LoginThrottledError } from './console-access.js';

/** The HTTP status of each protocol error code, for the console's JSON API. */
const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_EVENT: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.BAD_REQUEST,
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  413: ErrorCode.BAD_REQUEST,
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.UNAVAILABLE,
};

/**
 * The console API's one error mapping: a `GatewayError` becomes its code's status with
 * `{"error":{"code","message"}}`; Nest's own HTTP errors (a 404 of a console that is off, a body
 * that is not JSON) keep their status; anything else is a 500 that says nothing of its cause.
 */
@Catch()
export class ConsoleHttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Console');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    let status: number;
    let code: string;
    let message: string;
    if (err instanceof GatewayError) {
      status = STATUS[err.code];
      code = err.code;
      message = err.message;
      if (err instanceof LoginThrottledError)
        res.setHeader('Retry-After', String(err.retryAfterSec));
    } else if (err instanceof HttpException && err.getStatus() === 404) {
      // What any unknown path answers: a console that is off cannot be told from none.
      res.statusCode = 404;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(JSON.stringify({ message: 'Not Found', statusCode: 404 }));
      return;
    } else if (err instanceof HttpException) {
      status = err.getStatus();
      code = CODE_OF_STATUS[status] ?? ErrorCode.INTERNAL;
      // Nest's messages are generic ("Bad Request"); none of them quotes the request.
      message = err.message;
    } else {
      this.logger.error({ err }, 'console request failed');
      status = 500;
      code = ErrorCode.INTERNAL;
      message = 'internal error';
    }
    const body = JSON.stringify({ error: { code, message } });
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  }
}
