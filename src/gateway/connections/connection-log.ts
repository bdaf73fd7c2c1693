import type { Logger } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import type { ClientConnection } from './connection.js';

/** What a log line goes through: pino's signature, which Nest's `Logger.log` also accepts. */
interface LineSink {
  info(fields: object, msg: string): void;
}

/**
 * The two lines every connection leaves, one when it opens and one when it closes.
 *
 * When the application logs through nestjs-pino (the service does; so may a host), they go to
 * its root pino logger directly, through one child bound to the `Gateway` context. Otherwise they
 * go through Nest's logger, whatever the host installed. The direct path matters at connection
 * churn: Nest's logger reaches pino through three wrappers and a copy of every field object (its
 * cost is in docs/performance.md). The lines are the same either way.
 */
export class ConnectionLog {
  private readonly sink: LineSink;

  /** `fallback` is Nest's logger for `context`, used when there is no pino root logger. */
  constructor(context: string, fallback: Logger) {
    const root = PinoLogger.root as PinoLogger['logger'] | undefined;
    this.sink = root
      ? root.child({ context })
      : { info: (fields, msg) => fallback.log(fields, msg) };
  }

  /**
   * `proxy`: the trusted proxy the connection came through, when the client's address was taken
   * from its `X-Forwarded-For` (see `trustedProxies`).
   */
  opened(connection: ClientConnection, proxy: string | undefined): void {
    this.sink.info(
      proxy
        ? {
            connection: connection.id,
            principal: connection.principal.subject,
            remote: connection.remoteAddress,
            proxy,
          }
        : {
            connection: connection.id,
            principal: connection.principal.subject,
            remote: connection.remoteAddress,
          },
      'connection opened',
    );
  }

  closed(connection: ClientConnection, code: number, reason: string): void {
    this.sink.info(
      {
        connection: connection.id,
        principal: connection.principal.subject,
        remote: connection.remoteAddress,
        code,
        reason,
        durationMs: Date.now() - connection.openedAt,
        messagesIn: connection.messagesIn,
        messagesOut: connection.messagesOut,
      },
      'connection closed',
    );
  }
}
