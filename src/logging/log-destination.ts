import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pino from 'pino';

/** Buffered bytes that trigger a write at once. */
const MIN_WRITE_BYTES = 8 * 1024;
/** The longest a line waits in the buffer: logs stay near real time for a person tailing them. */
const FLUSH_EVERY_MS = 200;

/**
 * Standard output for JSON lines, written in batches: one `write` per 8 KiB or per 200 ms rather
 * than one per line. A line a connection opens and one it closes are the gateway's only per-
 * connection logs, but at thousands of handshakes a second a syscall each was a tenth of the
 * server's CPU. What is buffered is written out synchronously at shutdown.
 */
@Injectable()
export class LogDestination implements OnApplicationShutdown {
  readonly stream = pino.destination({
    dest: 1,
    sync: false,
    minLength: MIN_WRITE_BYTES,
  });
  private readonly timer = setInterval(
    () => this.flush(),
    FLUSH_EVERY_MS,
  ).unref();

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.flush(true);
  }

  private flush(sync = false): void {
    try {
      if (sync) this.stream.flushSync();
      else this.stream.flush();
    } catch {
      // Not ready yet (the file descriptor opens asynchronously) or already closed: the next
      // flush, or the final synchronous one, writes what is pending.
    }
  }
}
