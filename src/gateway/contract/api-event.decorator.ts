import { SetMetadata } from '@nestjs/common';
import type { SchemaSource } from './json-schema.js';

/** Metadata key of {@link ApiEvent}. */
export const API_EVENT_METADATA = 'nest-ws-gateway:api-event';
/** Metadata key of {@link ApiPush}. */
export const API_PUSH_METADATA = 'nest-ws-gateway:api-push';

/** How a handler describes itself where its DTO cannot (see {@link ApiEvent}). */
export interface ApiEventOptions {
  /** One line: what the event does. */
  summary?: string;
  /** More words, Markdown. */
  description?: string;
  /**
   * The request's `data` when the handler's `@MessageBody()` type says nothing (no DTO): a
   * class described with class-validator decorators, or a JSON Schema.
   */
  payload?: SchemaSource;
  /**
   * The reply's `data`: a class described with class-validator decorators, or a JSON Schema
   * (`schemaRef(SomeClass)` inside it points at a class). Unset: any JSON.
   */
  reply?: SchemaSource;
  /** An example request `data` and its reply `data`, shown in the document. */
  example?: { data?: unknown; reply?: unknown };
}

/**
 * Describes a message handler in the gateway's AsyncAPI document (`GET /asyncapi.json`) where
 * the handler's signature cannot: its reply, a summary, an example. The request's schema comes
 * from the `@MessageBody()` DTO by itself.
 *
 * ```ts
 * @SubscribeMessage('chat.say')
 * @ApiEvent({ summary: 'Says something in the chat', reply: SaidReply })
 * say(@MessageBody() dto: SayDto) { ... }
 * ```
 */
export const ApiEvent = (options: ApiEventOptions): MethodDecorator =>
  SetMetadata(API_EVENT_METADATA, options);

/** A push a gateway's events make the server send (see {@link ApiPush}). */
export interface ApiPushOptions {
  /** The push's event name. */
  event: string;
  /** Its `data`: a described class, or a JSON Schema. */
  payload: SchemaSource;
  summary?: string;
  description?: string;
}

/**
 * Declares on a gateway class a push that clients of its path receive (`{"event", "data"}`
 * frames the server sends unasked), for the AsyncAPI document. Repeatable.
 */
export function ApiPush(options: ApiPushOptions): ClassDecorator {
  return (target) => {
    const pushes =
      (Reflect.getMetadata(API_PUSH_METADATA, target) as
        ApiPushOptions[] | undefined) ?? [];
    // Class decorators apply bottom-up: prepend, so the document lists them as written.
    Reflect.defineMetadata(API_PUSH_METADATA, [options, ...pushes], target);
  };
}
