import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { BatchedLineWriter } from './batched-line-writer.js';

/** Buffered characters that trigger a write at once. */
const FLUSH_AT_CHARS = 16 * 1024;
/** The longest a line waits in the buffer: logs stay near real time for a person tailing them. */
const FLUSH_EVERY_MS = 200;
/** What is held while standard output accepts nothing; past it, lines are dropped and counted. */
const MAX_BUFFERED_CHARS = 8 * 1024 * 1024;

const STDOUT = 1;

/**
 * Standard output for JSON lines, written in batches: one `write` per 16 KiB or per 200 ms rather
 * than one per line. A line a connection opens and one it closes are the gateway's only
 * per-connection logs, but at thousands of handshakes a second a syscall each costs a visible
 * share of the server's CPU (docs/performance.md). What is buffered is written out at shutdown and when the process exits, so a
 * fatal line logged just before `process.exit` is not lost.
 */
@Injectable()
export class LogDestination implements OnApplicationShutdown {
  readonly stream = new BatchedLineWriter(STDOUT, {
    flushAtChars: FLUSH_AT_CHARS,
    maxBufferedChars: MAX_BUFFERED_CHARS,
  });
  private readonly timer = setInterval(
    () => this.stream.flush(),
    FLUSH_EVERY_MS,
  ).unref();
  private readonly flushAtExit = () => this.stream.flushSync();

  constructor() {
    process.once('exit', this.flushAtExit);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    process.off('exit', this.flushAtExit);
    this.stream.flushSync();
  }
}
