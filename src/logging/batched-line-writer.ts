import { writeSync } from 'node:fs';

/** How the writer hands bytes to the file descriptor; `fs.writeSync` unless a test says otherwise. */
export type WriteSyncFn = (
  fd: number,
  buffer: Buffer,
  offset: number,
) => number;

export interface BatchedLineWriterOptions {
  /** Buffered characters that trigger a write at once. */
  flushAtChars: number;
  /**
   * Past this many buffered characters (standard output not accepting anything), new lines are
   * dropped and counted instead of growing the heap without bound.
   */
  maxBufferedChars: number;
}

/**
 * A pino destination that collects JSON lines and writes them out in batches, with one
 * `write(2)` per batch instead of one per line.
 *
 * `pino.destination({ minLength })` batches too, but measures the byte length of the whole
 * pending batch on every line (flattening the string it is building), so each line costs time
 * and garbage in proportion to the batch: at two lines per WebSocket connection that was the
 * largest allocation of a handshake. Here a line costs an array slot; the join happens once per
 * batch.
 *
 * Writes are synchronous, as pino's default destination's and as Node's own stdout's to files
 * and pipes are: nothing is in flight, so a flush at exit is complete and lines keep their order.
 * A descriptor that is non-blocking and full (EAGAIN) keeps the batch for the next flush; one
 * that fails outright loses the batch, which is counted, never thrown into the caller's code.
 */
export class BatchedLineWriter {
  private lines: string[] = [];
  private bufferedChars = 0;
  /** Lines lost since the last successful write (reported in a line of their own). */
  private droppedSinceWrite = 0;
  private droppedTotal = 0;

  constructor(
    private readonly fd: number,
    private readonly options: BatchedLineWriterOptions,
    private readonly writeBytes: WriteSyncFn = writeSync,
  ) {}

  /** Lines dropped since the writer was created. */
  get dropped(): number {
    return this.droppedTotal;
  }

  write(line: string): boolean {
    if (this.bufferedChars + line.length > this.options.maxBufferedChars) {
      this.droppedSinceWrite++;
      this.droppedTotal++;
      return false;
    }
    this.lines.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars >= this.options.flushAtChars) this.writeBuffered();
    return true;
  }

  /** Writes out what is buffered. Never throws; `done` (pino's `logger.flush(cb)`) runs after. */
  flush(done?: (err?: Error) => void): void {
    this.writeBuffered();
    done?.();
  }

  /** Alias of {@link flush}: writes are synchronous already. */
  flushSync(): void {
    this.writeBuffered();
  }

  private writeBuffered(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.bufferedChars = 0;
    const rest = this.writeAll(Buffer.from(text));
    if (rest === undefined) {
      this.reportDrops();
    } else if (rest.length > 0) {
      // Kept for the next flush, ahead of anything logged since.
      const pending = rest.toString();
      this.lines.push(pending);
      this.bufferedChars = pending.length;
    }
  }

  /**
   * Writes `buffer` until done (undefined), the descriptor is full (the unwritten rest), or
   * it fails (an empty buffer: the batch is lost and counted).
   */
  private writeAll(buffer: Buffer): Buffer | undefined {
    let offset = 0;
    while (offset < buffer.length) {
      try {
        offset += this.writeBytes(this.fd, buffer, offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN')
          return buffer.subarray(offset);
        const lost = countLines(buffer, offset);
        this.droppedSinceWrite += lost;
        this.droppedTotal += lost;
        return Buffer.alloc(0);
      }
    }
    return undefined;
  }

  private reportDrops(): void {
    if (this.droppedSinceWrite === 0) return;
    const line = `${JSON.stringify({
      level: 40,
      time: Date.now(),
      context: 'Logging',
      dropped: this.droppedSinceWrite,
      msg: 'log lines dropped: standard output did not accept them',
    })}\n`;
    this.droppedSinceWrite = 0;
    this.writeAll(Buffer.from(line));
  }
}

function countLines(buffer: Buffer, from: number): number {
  let n = 0;
  for (
    let i = buffer.indexOf(10, from);
    i !== -1;
    i = buffer.indexOf(10, i + 1)
  )
    n++;
  return Math.max(n, 1);
}
