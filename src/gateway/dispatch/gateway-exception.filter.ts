import {
  Catch,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { mapError } from './error-mapping.js';
import { RequestContext } from './request-context.js';

/**
 * Answers any error a handler, guard or pipe throws with an error frame carrying the request's
 * id. Unexpected errors are logged with the connection and event; the client only learns that
 * something went wrong (`INTERNAL`).
 */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Gateway');

  catch(exception: unknown, host: ArgumentsHost): void {
    // The adapter passes the RequestContext right after the payload.
    const context: unknown = host.getArgByIndex(2);
    const { payload, unexpected } = mapError(exception);
    const request = context instanceof RequestContext ? context : undefined;
    if (unexpected) {
      this.logger.error(
        {
          err: exception,
          connection: request?.connection.id,
          event: request?.event,
        },
        'handler failed',
      );
    }
    request?.fail(payload);
  }
}
