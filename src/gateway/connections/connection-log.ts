import type { Logger } from '@nestjs/common';
import type { ClientConnection } from './connection.js';

/** What a connection line goes through: pino's signature, which Nest's `Logger.log` also accepts. */
export interface ConnectionLineSink {
  /** Writes one line at level info: `fields` as its structured fields, `msg` as its message. */
  info(fields: object, msg: string): void;
}

/**
 * A structured logger the connection lines may be written to directly instead of through Nest's
 * logger. pino's logger has this shape: the service passes nestjs-pino's root logger
 * (`PinoLogger.root`), and so may a host that logs through nestjs-pino.
 */
export interface ConnectionLogger {
  /** A logger whose every line carries `bindings` (the gateway's log context). */
  child(bindings: { context: string }): ConnectionLineSink;
}

/**
 * The two lines every connection leaves, one when it opens and one when it closes.
 *
 * They go through Nest's logger, whatever the host installed (nestjs-pino's included), unless the
 * application hands over a structured logger of its own (`GatewayAdapterOptions`): then through
 * one child of it bound to the log context. The direct path matters at connection churn: Nest's
 * logger reaches pino through three wrappers and a copy of every field object (its cost is in
 * docs/performance.md). The lines are the same either way. The library imports no logger package, so
 * a host that does not use pino does not install it.
 */
export class ConnectionLog {
  private readonly sink: ConnectionLineSink;

  /** `fallback` is Nest's logger for `context`, used when there is no `direct` logger. */
  constructor(context: string, fallback: Logger, direct?: ConnectionLogger) {
    this.sink = direct
      ? direct.child({ context })
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
