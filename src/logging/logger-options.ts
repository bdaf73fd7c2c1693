import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import type { LoggingConfig } from '../config/logging.config.js';

/** Paths that probes hit every few seconds: no access log line for them. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '/').split('?', 1)[0];

/**
 * pino-http settings. Requests are logged by path only: the query string may carry a token
 * (`?token=`), and headers are left out but for the user agent, so `Authorization` never reaches
 * a line. Redaction backs this up for anything logged under those names elsewhere.
 */
export function loggerOptions(
  config: LoggingConfig,
  destination: DestinationStream,
): Params {
  const options: Options = {
    level: config.level,
    transport:
      config.format === 'pretty'
        ? {
            target: 'pino-pretty',
            options: {
              singleLine: true,
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: 'pid,hostname',
            },
          }
        : undefined,
    redact: {
      paths: [
        'authorization',
        'token',
        '*.authorization',
        '*.token',
        'req.headers.authorization',
        'req.headers.cookie',
        'req.query.token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (
        req: IncomingMessage & { id?: unknown; remoteAddress?: string },
      ) => ({
        id: req.id,
        method: req.method,
        path: pathOf(req.url),
        remoteAddress: req.remoteAddress,
        userAgent: req.headers?.['user-agent'],
      }),
    },
    autoLogging: {
      ignore: (req: IncomingMessage) => QUIET_PATHS.has(pathOf(req.url)),
    },
  };
  // pretty: a transport (its own worker thread) writes; json: the buffered stdout destination.
  return {
    pinoHttp: config.format === 'pretty' ? options : [options, destination],
  };
}
