import { timerDelay, type ClientClock } from './clock.js';
import { RequestError, RequestTimeoutError } from './errors.js';
import type { ErrorPayload, RequestId } from '../protocol/index.js';

/** A request to register: who waits for it, and how long. */
export interface NewRequest {
  event: string;
  id: RequestId;
  /** How long it may wait for its reply, from now; the timer is capped at setTimeout's limit. */
  timeoutMs: number;
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  /** Already on the wire; otherwise it waits in the queue until {@link RequestTable.markSent}. */
  sent: boolean;
  /** Runs when it times out, before it rejects: to take it out of the queue. */
  onTimeout?: () => void;
}

interface Pending {
  event: string;
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  timer: unknown;
  /** On the wire: a drop rejects it (it may have been carried out). */
  sent: boolean;
}

/**
 * The requests waiting for their reply, by id: it hands out ids, times requests out, settles them
 * with their reply and rejects them when the connection ends. Pure but for the injected clock.
 */
export class RequestTable {
  private readonly pending = new Map<RequestId, Pending>();
  private lastId = 0;

  constructor(private readonly clock: ClientClock) {}

  /** Requests waiting, queued ones included. */
  get size(): number {
    return this.pending.size;
  }

  /** A fresh id, unique for the life of the client (reconnections included). */
  nextId(): number {
    return ++this.lastId;
  }

  /** Registers a request; its timeout starts now and rejects it with `RequestTimeoutError`. */
  add(request: NewRequest): void {
    const { event, id, timeoutMs, reject, onTimeout } = request;
    const timer = this.clock.setTimeout(() => {
      this.pending.delete(id);
      onTimeout?.();
      reject(new RequestTimeoutError(event, id, timeoutMs));
    }, timerDelay(timeoutMs));
    this.pending.set(id, {
      event,
      resolve: request.resolve,
      reject,
      timer,
      sent: request.sent,
    });
  }

  /** A queued request went on the wire: from now on a drop rejects it. */
  markSent(id: RequestId): void {
    const pending = this.pending.get(id);
    if (pending) pending.sent = true;
  }

  /**
   * The reply to request `id`: an `error` frame rejects it with `RequestError`, any other
   * resolves it with `data`. A reply nobody waits for (it came after its timeout) is dropped.
   */
  settle(id: RequestId, event: string, data: unknown): void {
    const pending = this.pending.get(id);
    if (!pending || !pending.sent) return;
    this.pending.delete(id);
    this.clock.clearTimeout(pending.timer);
    if (event === 'error') {
      pending.reject(new RequestError(data as ErrorPayload, pending.event, id));
    } else {
      pending.resolve(data);
    }
  }

  /** The connection dropped: requests on the wire reject (never sent again), queued ones wait. */
  rejectSent(error: Error): void {
    this.rejectWhere(error, (pending) => pending.sent);
  }

  /** The client is closed for good: every request rejects. */
  rejectAll(error: Error): void {
    this.rejectWhere(error, () => true);
  }

  private rejectWhere(
    error: Error,
    which: (pending: Pending) => boolean,
  ): void {
    for (const [id, pending] of this.pending) {
      if (!which(pending)) continue;
      this.pending.delete(id);
      this.clock.clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
