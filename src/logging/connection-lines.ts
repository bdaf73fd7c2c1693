import { pino, type Logger } from 'pino';
import type {
  ConnectionLineSink,
  ConnectionLogger,
} from '../gateway/connections/connection-log.js';

const { chindingsSym, endSym, lsCacheSym, messageKeySym, streamSym, timeSym } =
  pino.symbols;

/** pino's numeric level of `info`. */
const INFO = 30;

/**
 * The connection lines (two per connection: opened, closed) written to the service's pino logger
 * as pino itself writes its lines: the level and time, the logger's bindings (pid, hostname, the
 * log context), the fields in their order, the message, to the logger's own stream.
 *
 * pino's generic path walks every field through its serializers, stringifiers and redaction,
 * and at thousands of handshakes a second that is about a tenth of a handshake's CPU
 * (docs/performance.md). These lines have fixed fields of our own, strings and numbers, none of
 * them a redacted path (logger-options.ts), so the line is assembled directly: the same bytes
 * (connection-lines.spec.ts holds it against pino's output). The level is pino's, read at each
 * line, so a change of level applies to them too.
 */
export class ConnectionLines implements ConnectionLogger {
  constructor(private readonly root: Logger) {}

  child(bindings: { context: string }): ConnectionLineSink {
    const logger = this.root.child(bindings);
    // pino's internals a line is put together from, as `pino.symbols` exposes them to
    // integrations; fixed once the child exists.
    const parts = logger as unknown as Record<symbol, unknown>;
    const prefix = (parts[lsCacheSym] as Record<number, string>)[INFO];
    const time = parts[timeSym] as () => string;
    const bound = parts[chindingsSym] as string;
    const messageKey = `,"${parts[messageKeySym] as string}":`;
    const end = parts[endSym] as string;
    const stream = parts[streamSym] as { write(line: string): unknown };
    return {
      info(fields: object, msg: string): void {
        if (!logger.isLevelEnabled('info')) return;
        let line = prefix + time() + bound;
        for (const key in fields) {
          const value = (fields as Record<string, unknown>)[key];
          if (value === undefined) continue;
          line += `,"${key}":${valueJson(value)}`;
        }
        stream.write(line + messageKey + JSON.stringify(msg) + end);
      },
    };
  }
}

/** A field's value as pino writes it: finite numbers bare, anything else as JSON. */
function valueJson(value: unknown): string {
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : 'null';
  return JSON.stringify(value) ?? 'null';
}
