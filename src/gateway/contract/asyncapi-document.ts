import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  GATEWAY_OPTIONS as NEST_GATEWAY_OPTIONS,
  MESSAGE_MAPPING_METADATA,
  MESSAGE_METADATA,
  PARAM_ARGS_METADATA,
} from '@nestjs/websockets/constants.js';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { CLOSE_CODE_MEANINGS } from '../../protocol/close-codes.js';
import { MAX_EVENT_LENGTH, MAX_ID_LENGTH } from '../../protocol/envelope.js';
import { ERROR_CODE_MEANINGS, ErrorCode } from '../../protocol/error-codes.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import {
  API_EVENT_METADATA,
  API_PUSH_METADATA,
  type ApiEventOptions,
  type ApiPushOptions,
} from './api-event.decorator.js';
import { applicationInfo, packageInfo } from '../package-info.js';
import {
  ANY_JSON,
  SCHEMAS_POINTER,
  type JsonSchema,
  type SchemaSource,
} from './json-schema.js';

/** An AsyncAPI 3.0 document, as plain JSON. */
export type AsyncApiDocument = { asyncapi: '3.0.0' } & Record<string, unknown>;

/** One event a gateway answers, as its metadata says. */
interface EventEntry {
  event: string;
  payload: JsonSchema;
  reply: JsonSchema;
  options: ApiEventOptions;
  /** The class of its `@MessageBody()`, which the gateway's validation pipe checks data against. */
  dto?: string;
}

/** One path's events and pushes. */
interface PathEntry {
  path: string;
  events: Map<string, EventEntry>;
  pushes: Map<string, ApiPushOptions & { schema: JsonSchema }>;
}

/** Error codes in the order the protocol lists them. */
const ERROR_CODES = Object.values(ErrorCode);

/** Component keys allow letters, digits, `.`, `-` and `_`; event names may hold more. */
const keyOf = (name: string): string => name.replace(/[^\w.-]/g, '_');

const isClass = (
  source: SchemaSource,
): source is abstract new (...args: never[]) => unknown =>
  typeof source === 'function';

/** Every `$ref` to a schema of the document inside `value`. */
function refsIn(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) refsIn(item, found);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (
      key === '$ref' &&
      typeof inner === 'string' &&
      inner.startsWith(SCHEMAS_POINTER)
    )
      found.add(inner.slice(SCHEMAS_POINTER.length));
    else refsIn(inner, found);
  }
}

/**
 * The gateway's protocol as an AsyncAPI 3.0 document, made from the handlers the application
 * registered (the standard events and the host's own, on every gateway path): each event with
 * its request schema (from its `@MessageBody()` DTO, through class-validator-jsonschema), its
 * reply and the error frame, the pushes, the close codes, and how to authenticate. Built once,
 * at the first call, after Nest has made every gateway.
 */
@Injectable()
export class AsyncApiDocumentBuilder {
  private built?: AsyncApiDocument;

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {}

  /** The document (the same object on every call). */
  document(): AsyncApiDocument {
    return (this.built ??= this.build());
  }

  private build(): AsyncApiDocument {
    const application = applicationInfo();
    const paths = this.scan();
    const schemas = validationMetadatasToSchemas({
      refPointerPrefix: SCHEMAS_POINTER,
      classTransformerMetadataStorage: defaultMetadataStorage,
    }) as Record<string, JsonSchema>;
    const dtos = new Set<string>();
    const channels: Record<string, unknown> = {};
    const operations: Record<string, unknown> = {};
    const messages: Record<string, unknown> = {
      error: {
        name: 'error',
        title: 'Error frame',
        summary:
          'The answer to a request that failed (with its id), or to a frame that was not one. It never closes the connection by itself.',
        payload: envelope(
          'error',
          { $ref: `${SCHEMAS_POINTER}ErrorPayload` },
          true,
        ),
      },
    };
    for (const { path, events, pushes } of paths) {
      const channelKey =
        paths.length === 1 ? 'gateway' : keyOf(`gateway${path}`);
      const channelMessages: Record<string, unknown> = {
        error: { $ref: '#/components/messages/error' },
      };
      const channelRef = { $ref: `#/channels/${channelKey}` };
      const messageRef = (key: string) => ({
        $ref: `#/channels/${channelKey}/messages/${key}`,
      });
      // One path: messages named by event. Several: by path too, since one event name may
      // carry other schemas on another path.
      const componentKey = (key: string) =>
        paths.length === 1 ? key : `${channelKey}.${key}`;
      const component = (key: string, message: unknown) => {
        messages[componentKey(key)] = message;
        channelMessages[key] = {
          $ref: `#/components/messages/${componentKey(key)}`,
        };
      };
      for (const entry of [...events.values()].sort((a, b) =>
        a.event.localeCompare(b.event),
      )) {
        const key = keyOf(entry.event);
        if (entry.dto) dtos.add(entry.dto);
        // The pipe reads absent data as `{}`: data may be left out unless the DTO requires a field.
        const required = entry.dto ? schemas[entry.dto]?.required : undefined;
        const dataRequired = Array.isArray(required) && required.length > 0;
        component(`${key}.request`, {
          name: entry.event,
          title: `${entry.event} request`,
          summary: entry.options.summary,
          description: entry.options.description,
          payload: envelope(entry.event, entry.payload, dataRequired),
          examples: entry.options.example
            ? [
                {
                  payload: {
                    event: entry.event,
                    data: entry.options.example.data,
                    id: 1,
                  },
                },
              ]
            : undefined,
        });
        component(`${key}.reply`, {
          name: entry.event,
          title: `${entry.event} reply`,
          summary: `The reply to ${entry.event}, with the request's id.`,
          payload: envelope(entry.event, entry.reply, true),
          examples:
            entry.options.example?.reply !== undefined
              ? [
                  {
                    payload: {
                      event: entry.event,
                      data: entry.options.example.reply,
                      id: 1,
                    },
                  },
                ]
              : undefined,
        });
        operations[keyOf(`${channelKey}.send.${entry.event}`)] = {
          action: 'send',
          channel: channelRef,
          title: entry.event,
          summary: entry.options.summary,
          description: entry.options.description,
          messages: [messageRef(`${key}.request`)],
          reply: {
            channel: channelRef,
            messages: [messageRef(`${key}.reply`), messageRef('error')],
          },
        };
      }
      for (const push of pushes.values()) {
        const key = `${keyOf(push.event)}.push`;
        component(key, {
          name: push.event,
          title: `${push.event} push`,
          summary: push.summary,
          description: push.description,
          payload: {
            type: 'object',
            properties: { event: { const: push.event }, data: push.schema },
            required: ['event', 'data'],
            additionalProperties: false,
          },
        });
        operations[keyOf(`${channelKey}.receive.${push.event}`)] = {
          action: 'receive',
          channel: channelRef,
          title: push.event,
          summary: push.summary,
          messages: [messageRef(key)],
        };
      }
      channels[channelKey] = {
        address: path,
        title: `WebSocket at ${path}`,
        description:
          'One JSON envelope per text frame: `{"event", "data"?, "id"?}`. A request with an `id` gets exactly one reply or error frame with that id. A text frame that is not an envelope is answered `server received: <text>`; a binary frame closes with 1003.',
        servers: [{ $ref: '#/servers/gateway' }],
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: {
                  type: 'string',
                  description:
                    'the token, for clients that cannot set a header (browsers)',
                },
              },
            },
            headers: {
              type: 'object',
              properties: {
                Authorization: {
                  type: 'string',
                  pattern: '^Bearer ',
                  description: 'Bearer <token>',
                },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      };
    }
    return {
      asyncapi: '3.0.0',
      info: {
        title: application.name,
        version: application.version,
        description: [
          `The WebSocket protocol of this gateway (nest-ws-gateway ${packageInfo().version}), generated from its message handlers.`,
          '',
          'Authenticate at the handshake with `Authorization: Bearer <token>` or `?token=<token>`; a refused handshake is an HTTP status (401, 403, 429, 503), never a socket.',
          '',
          'Close codes:',
          '',
          ...Object.entries(CLOSE_CODE_MEANINGS).map(
            ([code, meaning]) => `- ${code}: ${meaning}`,
          ),
        ].join('\n'),
        'x-error-codes': ERROR_CODES.map((code) => ({
          code,
          meaning: ERROR_CODE_MEANINGS[code],
        })),
        'x-close-codes': Object.entries(CLOSE_CODE_MEANINGS).map(
          ([code, meaning]) => ({ code: Number(code), meaning }),
        ),
      },
      defaultContentType: 'application/json',
      servers: {
        gateway: {
          host: 'localhost:8765',
          protocol: 'ws',
          description: 'The gateway; give your own host and port.',
          security: [
            { $ref: '#/components/securitySchemes/bearer' },
            { $ref: '#/components/securitySchemes/queryToken' },
          ],
        },
      },
      channels,
      operations,
      components: {
        schemas: this.schemas(schemas, dtos, channels, messages),
        messages,
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A static token or a JWT in `Authorization: Bearer <token>` at the handshake.',
          },
          queryToken: {
            type: 'httpApiKey',
            in: 'query',
            name: 'token',
            description:
              'The token in the query string, where a header cannot be set.',
          },
        },
      },
    };
  }

  /**
   * The DTO and reply schemas the document points at (and those they point at), and its own.
   * The validation pipe refuses fields a DTO does not declare, in it and in its nested DTOs:
   * their schemas say so (`additionalProperties: false`).
   */
  private schemas(
    all: Record<string, JsonSchema>,
    dtos: ReadonlySet<string>,
    ...parts: unknown[]
  ): Record<string, JsonSchema> {
    const own: Record<string, JsonSchema> = {
      RequestId: {
        description: "A request's id, echoed in its reply or error frame.",
        oneOf: [
          { type: 'string', maxLength: MAX_ID_LENGTH },
          { type: 'number' },
        ],
      },
      ErrorPayload: {
        type: 'object',
        properties: {
          code: {
            type: 'string',
            enum: ERROR_CODES,
            description: ERROR_CODES.map(
              (code) => `${code}: ${ERROR_CODE_MEANINGS[code]}`,
            ).join('; '),
          },
          message: { type: 'string' },
          details: {
            type: 'array',
            description: 'For BAD_REQUEST: the fields that failed validation.',
            items: {
              type: 'object',
              properties: {
                field: { type: 'string' },
                message: { type: 'string' },
              },
              required: ['field', 'message'],
            },
          },
        },
        required: ['code', 'message'],
      },
    };
    const wanted = new Set<string>();
    refsIn(parts, wanted);
    const chosen: Record<string, JsonSchema> = {};
    const queue = [...wanted];
    while (queue.length > 0) {
      const name = queue.pop() as string;
      if (chosen[name]) continue;
      const schema = own[name] ?? all[name];
      if (!schema) continue;
      chosen[name] = schema;
      const inner = new Set<string>();
      refsIn(schema, inner);
      for (const next of inner) if (!chosen[next]) queue.push(next);
    }
    const closed = new Set<string>();
    const pending = [...dtos];
    while (pending.length > 0) {
      const name = pending.pop() as string;
      const schema = all[name];
      if (closed.has(name) || !schema || !chosen[name]) continue;
      closed.add(name);
      chosen[name] = { ...schema, additionalProperties: false };
      const inner = new Set<string>();
      refsIn(schema, inner);
      pending.push(...inner);
    }
    return Object.fromEntries(
      Object.entries(chosen).sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  /** Every gateway's events and pushes, by path. */
  private scan(): PathEntry[] {
    const scanner = new MetadataScanner();
    const byPath = new Map<string, PathEntry>();
    for (const { metatype, instance } of this.discovery.getProviders()) {
      const type = metatype as (new (...args: never[]) => unknown) | undefined;
      if (!type || !instance || !Reflect.getMetadata(GATEWAY_METADATA, type))
        continue;
      const gatewayOptions = (Reflect.getMetadata(NEST_GATEWAY_OPTIONS, type) ??
        {}) as { path?: string };
      const path = gatewayOptions.path ?? this.options.path;
      let entry = byPath.get(path);
      if (!entry) {
        entry = { path, events: new Map(), pushes: new Map() };
        byPath.set(path, entry);
      }
      const proto = type.prototype as Record<string, object>;
      for (const name of scanner.getAllMethodNames(proto)) {
        const method = proto[name];
        if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) continue;
        const event = Reflect.getMetadata(MESSAGE_METADATA, method) as unknown;
        // The adapter serves the first handler bound for an event; so does the document.
        if (typeof event !== 'string' || entry.events.has(event)) continue;
        const options = (Reflect.getMetadata(API_EVENT_METADATA, method) ??
          {}) as ApiEventOptions;
        const body = bodyOf(type, name);
        entry.events.set(event, {
          event,
          options,
          payload: options.payload
            ? schemaOf(options.payload)
            : body.dto
              ? schemaOf(body.dto)
              : body.read
                ? ANY_JSON
                : { ...ANY_JSON, description: 'no data is read' },
          reply: options.reply ? schemaOf(options.reply) : ANY_JSON,
          dto: body.dto?.name,
        });
      }
      const pushes = (Reflect.getMetadata(API_PUSH_METADATA, type) ??
        []) as ApiPushOptions[];
      for (const push of pushes)
        if (!entry.pushes.has(push.event))
          entry.pushes.set(push.event, {
            ...push,
            schema: schemaOf(push.payload),
          });
    }
    return [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path));
  }
}

function schemaOf(source: SchemaSource): JsonSchema {
  return isClass(source)
    ? { $ref: `${SCHEMAS_POINTER}${source.name}` }
    : source;
}

/**
 * Whether a handler reads its `@MessageBody()`, and its class when it is one class-validator
 * knows (a DTO), which the gateway's validation pipe checks; else any JSON (`unknown`,
 * `Object`, a primitive type: nothing checks its shape).
 */
function bodyOf(
  type: new (...args: never[]) => unknown,
  method: string,
): { read: boolean; dto?: abstract new (...args: never[]) => unknown } {
  const args = (Reflect.getMetadata(PARAM_ARGS_METADATA, type, method) ??
    {}) as Record<string, { index: number }>;
  const body = Object.entries(args).find(
    ([key]) => Number(key.split(':')[0]) === WsParamtype.PAYLOAD,
  );
  if (!body) return { read: false };
  const paramTypes = (Reflect.getMetadata(
    'design:paramtypes',
    type.prototype as object,
    method,
  ) ?? []) as unknown[];
  const dto = paramTypes[body[1].index];
  if (
    typeof dto === 'function' &&
    dto !== Object &&
    dto !== String &&
    dto !== Number &&
    dto !== Boolean &&
    dto !== Array
  )
    return {
      read: true,
      dto: dto as abstract new (...args: never[]) => unknown,
    };
  return { read: true };
}

/** A frame `{"event": <event>, "data": <data>, "id"?}` of one event. */
function envelope(
  event: string,
  data: JsonSchema,
  dataRequired: boolean,
): JsonSchema {
  return {
    type: 'object',
    properties: {
      event: { const: event, maxLength: MAX_EVENT_LENGTH },
      data,
      id: { $ref: `${SCHEMAS_POINTER}RequestId` },
    },
    required: dataRequired ? ['event', 'data'] : ['event'],
  };
}
