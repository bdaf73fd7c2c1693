import type { ClientConnection } from '../connections/connection.js';
import type { RequestId } from '../../protocol/frames.js';
import { replyFrame, type ErrorPayload } from '../../protocol/frames.js';

/**
 * One request in flight. The adapter passes it to the handler as the argument after the
 * payload, so that the exception filter, which only sees the handler's arguments, can answer
 * with the request's id. It guarantees at most one reply or error per request.
 */
export class RequestContext {
  private settled = false;

  constructor(
    readonly connection: ClientConnection,
    readonly event: string,
    readonly id: RequestId | undefined,
  ) {}

  get isSettled(): boolean {
    return this.settled;
  }

  /**
   * Sends the handler's result. A handler that returns nothing still acknowledges a request
   * that carried an id (with `data: null`); without an id, nothing is sent.
   */
  reply(data: unknown): void {
    if (this.settled) return;
    if (data === undefined && this.id === undefined) {
      this.settled = true;
      this.connection.answered(this);
      return;
    }
    // Serialize before settling: a result JSON cannot carry (a BigInt, a cycle) throws here,
    // and the caller can still answer with an error frame.
    const frame = replyFrame(
      this.event,
      data === undefined ? null : data,
      this.id,
    );
    this.settled = true;
    this.connection.sendReply(frame, this.event, this.id);
    this.connection.answered(this);
  }

  /** Sends an error frame with the request's id. */
  fail(payload: ErrorPayload): void {
    if (this.settled) return;
    this.settled = true;
    this.connection.sendError(payload, this.id, this.event);
    this.connection.answered(this);
  }
}
