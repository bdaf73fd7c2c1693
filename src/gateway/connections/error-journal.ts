import { Injectable } from '@nestjs/common';
import type { ErrorEntry } from '../../protocol/console.js';

/** How many errors an instance keeps. */
export const ERROR_JOURNAL_SIZE = 100;
/** Clients choose event names, including unknown ones: a long one is cut. */
const MAX_EVENT_LENGTH = 64;

/**
 * The last error frames of this instance, for the web console: a ring of fixed size, written
 * only when an error frame is sent (never on a message's successful path).
 */
@Injectable()
export class ErrorJournal {
  private readonly ring: (ErrorEntry | undefined)[] = Array.from(
    { length: ERROR_JOURNAL_SIZE },
    () => undefined,
  );
  private next = 0;

  record(
    code: string,
    event: string | undefined,
    principal: string,
    connectionId: string,
  ): void {
    this.ring[this.next] = {
      at: Date.now(),
      code,
      event: event?.slice(0, MAX_EVENT_LENGTH),
      principal,
      connectionId,
    };
    this.next = (this.next + 1) % ERROR_JOURNAL_SIZE;
  }

  /** The kept errors, newest first, at most `limit`. */
  recent(limit = ERROR_JOURNAL_SIZE): ErrorEntry[] {
    const entries: ErrorEntry[] = [];
    for (let i = 1; i <= ERROR_JOURNAL_SIZE && entries.length < limit; i++) {
      const entry =
        this.ring[(this.next - i + ERROR_JOURNAL_SIZE) % ERROR_JOURNAL_SIZE];
      if (!entry) break;
      entries.push(entry);
    }
    return entries;
  }
}
