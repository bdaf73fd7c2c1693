import { Inject, Injectable, Logger } from '@nestjs/common';
import { firstValueFrom, isObservable } from 'rxjs';
import type { RawData } from 'ws';
import { CloseCode } from '../../protocol/close-codes.js';
import {
  ErrorCode,
  GatewayError,
  InvalidEnvelopeError,
  isEnvelopeText,
  parseEnvelope,
  plainTextReply,
  type RequestId,
} from '../../protocol/index.js';
import type {
  ClientConnection,
  MessageCallback,
} from '../connections/connection.js';
import type { RateRefusal } from '../connections/rate-limiter.js';
import { ReadPacer } from '../connections/read-pacer.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import { mapError } from './error-mapping.js';
import { RequestContext } from './request-context.js';

/**
 * The way of one message, from the frame `ws` hands over to the handler's reply: pacing and the
 * connection's budget, binary and plain text, the envelope, the handler found by event name in
 * the connection's table, and the reply or error frame with the request's id.
 */
@Injectable()
export class MessageDispatcher {
  private readonly logger = new Logger('Gateway');
  private readonly pacer = new ReadPacer();
  /** The text of each `RATE_LIMITED` refusal, made once from the limits. */
  private readonly rateMessages: Record<RateRefusal, string>;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
    private readonly traffic: TrafficStats,
  ) {
    const rate = options.rateLimit;
    this.rateMessages = {
      messages: `over ${rate.perSecond} messages per second (burst ${rate.burst}); slow down`,
      bytes: `over ${rate.bytesPerSecond} bytes per second (burst ${rate.bytesBurst}); slow down`,
      fanout: `over ${rate.fanoutBytesPerSecond} bytes per second of fan-out (a message's size times its recipients); slow down`,
    };
  }

  /**
   * Handles one message of `connection`; `bind` gives it its handler table on its first one.
   * This is the connection's edge: nothing thrown here may reach the socket's emitter or the
   * process.
   */
  dispatch(
    connection: ClientConnection,
    data: RawData,
    isBinary: boolean,
    bind: (connection: ClientConnection) => void,
  ): void {
    connection.alive = true;
    // Once the server has decided to close, it accepts nothing more: only what it accepted before
    // is answered (see ClientConnection.close).
    if (connection.closing) return;
    connection.messagesIn++;
    // Text frames arrive as one Buffer (binaryType 'nodebuffer', fragments joined by ws).
    const buffer = data as Buffer;
    this.pacer.handled(connection, connection.socket, buffer.length);
    try {
      if (!connection.handlers) bind(connection);
      const verdict = connection.takeToken(Date.now(), buffer.length);
      if (verdict !== 'allow') {
        this.refuseOverRate(connection, buffer, isBinary, verdict);
        return;
      }
      if (isBinary) {
        this.traffic.received('binary', buffer.length);
        connection.close(
          CloseCode.UNSUPPORTED_DATA,
          'binary frames are not accepted',
        );
        return;
      }
      const text = buffer.toString();
      if (!isEnvelopeText(text)) {
        this.traffic.received('text', buffer.length);
        connection.send(plainTextReply(text), 'text');
        return;
      }
      let envelope;
      try {
        envelope = parseEnvelope(text, this.options.maxDepth);
      } catch (err) {
        this.traffic.received('invalid', buffer.length);
        const id = err instanceof InvalidEnvelopeError ? err.id : undefined;
        connection.sendError(mapError(err).payload, id);
        return;
      }
      const handler = connection.handlers?.get(envelope.event);
      // Only handler names become metric labels: clients choose event names, not label sets.
      this.traffic.received(
        handler ? envelope.event : 'unknown',
        buffer.length,
      );
      if (!handler) {
        const { payload } = mapError(GatewayError.unknownEvent(envelope.event));
        connection.sendError(payload, envelope.id, envelope.event);
        return;
      }
      const request = new RequestContext(
        connection,
        envelope.event,
        envelope.id,
      );
      connection.accepted(request);
      try {
        this.run(handler, envelope.data, request);
      } finally {
        connection.returned(request, request.isSettled);
      }
    } catch (err) {
      this.logger.error(
        { err, connection: connection.id },
        'message handling failed',
      );
      connection.sendError(mapError(err).payload, undefined);
    }
  }

  /**
   * A message over the connection's budget: answered `RATE_LIMITED` (with the request's id when
   * it has one, so the client can tell which request was refused), or, for a client that keeps
   * flooding, the connection is closed with 1008.
   */
  private refuseOverRate(
    connection: ClientConnection,
    buffer: Buffer,
    isBinary: boolean,
    verdict: RateRefusal | 'close',
  ): void {
    this.traffic.received('rate_limited', buffer.length);
    if (verdict === 'close') {
      connection.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded');
      return;
    }
    let id: RequestId | undefined;
    const text = isBinary ? '' : buffer.toString();
    if (isEnvelopeText(text)) {
      try {
        id = parseEnvelope(text, this.options.maxDepth).id;
      } catch (err) {
        id = err instanceof InvalidEnvelopeError ? err.id : undefined;
      }
    }
    connection.sendError(
      { code: ErrorCode.RATE_LIMITED, message: this.rateMessages[verdict] },
      id,
    );
  }

  /**
   * Runs the handler and answers with its result. A compiled handler (handler-table.ts) answers
   * synchronously when its guards, pipes and method do: the reply then goes out in this same
   * call, without a promise; otherwise it returns a promise, and never an Observable. Nest's own
   * callbacks (async functions) always return a promise, of a value or of an Observable. So a
   * result that is not a promise is the reply: no lookup of `then`, `subscribe` or `lift` on the
   * handler's data, whatever its shape.
   */
  private run(
    handler: MessageCallback,
    data: unknown,
    request: RequestContext,
  ): void {
    let result: unknown;
    try {
      result = handler(data, request);
    } catch (err) {
      // What Nest's callback would have rejected with (a filter that rethrows).
      this.fail(request, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => this.settle(request, value),
        (err: unknown) => this.fail(request, err),
      );
    } else {
      this.reply(request, result);
    }
  }

  private settle(request: RequestContext, result: unknown): void {
    if (isObservable(result)) {
      firstValueFrom(result, { defaultValue: undefined }).then(
        (value) => this.reply(request, value),
        (err: unknown) => this.fail(request, err),
      );
    } else {
      this.reply(request, result);
    }
  }

  private reply(request: RequestContext, value: unknown): void {
    try {
      request.reply(value);
    } catch (err) {
      this.fail(request, err);
    }
  }

  /** Errors that escaped Nest's exception filters (a filter that rethrows, a bad result). */
  private fail(request: RequestContext, err: unknown): void {
    if (request.isSettled) return;
    const { payload, unexpected } = mapError(err);
    if (unexpected) {
      this.logger.error(
        { err, connection: request.connection.id, event: request.event },
        'handler failed',
      );
    }
    request.fail(payload);
  }
}
