import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream, LoggerOptions } from 'pino';
import type { Options } from 'pino-http';
import type { LoggingConfig } from '../config/logging.config.js';

/** Paths that probes hit every few seconds: no access log line for them. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const pathOf = (url: string | undefined) => (url ?? '/').split('?', 1)[0];

/**
 * Where a credential could sit in a logged object. Explicit paths, not `*.token`: a leading
 * wildcard runs pino's redactor over every field of every line (and parses each path again per
 * field), which was a third of the garbage a handshake made.
 */
const REDACTED_PATHS = [
  'authorization',
  'token',
  'headers.authorization',
  'headers.cookie',
  'query.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.query.token',
];

/** The application's pino logger: level, format, redaction. */
export function pinoOptions(config: LoggingConfig): LoggerOptions {
  return {
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
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
}

/**
 * Client-chosen text in a log line is cut to this many characters: Node accepts 16 KiB of
 * headers, and a request should not be able to write that much into every line.
 */
export const MAX_LOGGED_TEXT = 256;

/** `text` cut to {@link MAX_LOGGED_TEXT} characters, marked with `…` where it was cut. */
export function bounded(text: string | undefined): string | undefined {
  return text === undefined || text.length <= MAX_LOGGED_TEXT
    ? text
    : `${text.slice(0, MAX_LOGGED_TEXT)}…`;
}

/**
 * The access log (pino-http). Requests are logged by path only: the query string may carry a
 * token (`?token=`), and headers are left out but for the user agent, so `Authorization` never
 * reaches a line. Redaction backs this up for anything logged under those names elsewhere.
 */
export function accessLogOptions(): Options {
  return {
    serializers: {
      req: (
        req: IncomingMessage & { id?: unknown; remoteAddress?: string },
      ) => ({
        id: req.id,
        method: req.method,
        path: bounded(pathOf(req.url)),
        remoteAddress: req.remoteAddress,
        userAgent: bounded(req.headers?.['user-agent']),
      }),
      // The status only: response headers carry the console's Set-Cookie, a live session.
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: {
      ignore: (req: IncomingMessage) => QUIET_PATHS.has(pathOf(req.url)),
    },
  };
}

/**
 * nestjs-pino's settings: the root logger, and no middleware of its own (`forRoutes: []`).
 * Its middleware would bind a request-scoped logger in an `AsyncLocalStorage`, and on Node 20
 * the first such binding turns on async hooks for the rest of the process: every promise and
 * socket the gateway creates afterwards pays for them (a twentieth of a handshake's CPU). The
 * access log is mounted by `LoggingModule` instead, on the same root logger.
 */
export function loggerParams(
  config: LoggingConfig,
  destination: DestinationStream,
): Params {
  const options = pinoOptions(config);
  // pretty: a transport (its own worker thread) writes; json: the batched stdout destination.
  return {
    pinoHttp: config.format === 'pretty' ? options : [options, destination],
    forRoutes: [],
  };
}
