import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import {
  GATEWAY_METADATA,
  MESSAGE_MAPPING_METADATA,
  MESSAGE_METADATA,
} from '@nestjs/websockets/constants.js';
import { Ajv, type ValidateFunction } from 'ajv';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type Frame, type TestClient } from './support/ws-client.js';

/**
 * The AsyncAPI document the service serves, walked against the live gateway: every documented
 * request is sent over a real socket and its answer validated against the documented reply or
 * error, every handler the application registered is documented, every documented push is
 * made to happen and validated. The document is the only source of what to send.
 */

type Schema = Record<string, unknown>;

interface Message {
  name: string;
  payload: Schema;
  examples?: Array<{ payload: { data?: unknown } }>;
}

interface Operation {
  action: 'send' | 'receive';
  messages: Array<{ $ref: string }>;
  reply?: { messages: Array<{ $ref: string }> };
}

interface Document {
  operations: Record<string, Operation>;
  components: {
    schemas: Record<string, Schema>;
    messages: Record<string, Message>;
  };
}

/** A second principal, for the pushes another member's actions make. */
const OTHER_TOKEN = 'walk-other-token-0123456789';
/** Low enough that a third room is refused, and `resume` answers a failure entry. */
const MAX_ROOMS = 2;
const SCHEMAS = '#/components/schemas/';
/** Strings the walk offers a `pattern` in turn: a room name first. */
const STRING_SAMPLES = ['walk-room', 'walk', 'w', '0'];

describe('the AsyncAPI document against the live gateway (e2e)', () => {
  let gateway: RunningApp;
  let doc: Document;
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  const validators = new Map<string, ValidateFunction>();
  const clients: TestClient[] = [];
  let ids = 0;

  /** Follows a `$ref` chain inside the document. */
  const deref = <T>(value: unknown): T => {
    let current = value as Schema;
    while (typeof current.$ref === 'string') {
      current = current.$ref
        .slice(2)
        .split('/')
        .reduce<Schema>((node, key) => node[key] as Schema, doc as never);
    }
    return current as T;
  };

  /** The named message's payload validator (the whole frame). */
  const validator = (key: string): ValidateFunction => {
    let validate = validators.get(key);
    if (!validate) {
      const message = doc.components.messages[key];
      if (!message) throw new Error(`the document has no message "${key}"`);
      validate = ajv.compile(message.payload);
      validators.set(key, validate);
    }
    return validate;
  };

  const expectValid = (key: string, frame: unknown) => {
    const validate = validator(key);
    expect(
      validate(frame) ? 'valid' : ajv.errorsText(validate.errors),
      `${JSON.stringify(frame)} as the message ${key}`,
    ).toBe('valid');
  };

  const open = async (token = TEST_TOKEN) => {
    const client = await connect(gateway.wsUrl, { token });
    clients.push(client);
    return client;
  };

  /** Sends a request and returns its answer (the next frame: nothing else is in flight). */
  const ask = async (client: TestClient, event: string, data?: unknown) => {
    const id = `walk-${++ids}`;
    const frame = await client.request(event, data, id);
    expect(frame.id, `the answer to ${event} ${id}`).toBe(id);
    return frame;
  };

  /** The documented send operations: the event, its request data schema, its example data. */
  const sends = () =>
    Object.entries(doc.operations)
      .filter(([, op]) => op.action === 'send')
      .map(([key, op]) => {
        const request = deref<Message>(op.messages[0]);
        const payload = request.payload as {
          properties: { event: { const: string }; data: Schema };
        };
        const replies = (op.reply?.messages ?? []).map((ref) =>
          ref.$ref.split('/').at(-1),
        );
        return {
          key,
          event: payload.properties.event.const,
          request: `${keyOf(request)}.request`,
          data: payload.properties.data,
          example: request.examples?.[0]?.payload.data,
          replies,
        };
      });

  /** A message's key in components.messages (its name, as the document keys it). */
  const keyOf = (message: Message) => message.name.replace(/[^\w.-]/g, '_');

  /** A minimal value the schema accepts: required properties only, each at its least. */
  const sample = (schema: Schema): unknown => {
    const s = deref<Schema>(schema);
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum)) return s.enum[0];
    const union = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
    if (union) return sample(union[0]);
    switch (s.type) {
      case 'object': {
        const properties = (s.properties ?? {}) as Record<string, Schema>;
        return Object.fromEntries(
          ((s.required ?? []) as string[]).map((name) => [
            name,
            sample(properties[name]),
          ]),
        );
      }
      case 'array':
        return Array.from({ length: (s.minItems as number) ?? 0 }, () =>
          sample(s.items as Schema),
        );
      case 'integer':
      case 'number':
        return (s.minimum as number | undefined) ?? 0;
      case 'boolean':
        return false;
      case 'string': {
        const pattern = s.pattern ? new RegExp(s.pattern as string) : /./;
        const found = STRING_SAMPLES.find(
          (text) =>
            pattern.test(text) && text.length >= ((s.minLength as number) ?? 0),
        );
        if (found === undefined)
          throw new Error(`no sample string for ${JSON.stringify(s)}`);
        return found;
      }
      default:
        // Any JSON.
        return { text: 'walk' };
    }
  };

  /** Reads frames until one matches, validating each documented push on the way. */
  const until = async (
    client: TestClient,
    wanted: (frame: Frame) => boolean,
  ): Promise<Frame> => {
    for (;;) {
      const frame = await client.nextJson();
      if (doc.components.messages[`${frame.event}.push`])
        expectValid(`${frame.event}.push`, frame);
      if (wanted(frame)) return frame;
    }
  };

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        asyncapi: true,
        maxRoomsPerConnection: MAX_ROOMS,
        auth: { tokens: [TEST_TOKEN, OTHER_TOKEN] },
      },
    });
    const res = await fetch(`${gateway.httpUrl}/asyncapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Document;
    for (const [name, schema] of Object.entries(doc.components.schemas))
      ajv.addSchema(schema, `${SCHEMAS}${name}`);
  });
  afterAll(async () => {
    await gateway.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('every example of the document validates against its message', () => {
    const examples = Object.entries(doc.components.messages).flatMap(
      ([key, message]) =>
        (message.examples ?? []).map((example) => ({ key, example })),
    );
    expect(examples.length).toBeGreaterThan(0);
    for (const { key, example } of examples) expectValid(key, example.payload);
  });

  it('every send operation is answered by the live gateway with its documented reply', async () => {
    const walked = sends();
    expect(walked.map((s) => s.event)).toContain('join');
    for (const { event, request, data, example, replies } of walked) {
      expect(replies).toEqual([`${request.slice(0, -8)}.reply`, 'error']);
      const value = example !== undefined ? example : sample(data);
      expectValid(request, { event, data: value, id: 'walk' });
      const client = await open();
      // A request naming a room is made by a member of it (`presence` answers members only).
      const room = (value as { room?: unknown } | null)?.room;
      if (typeof room === 'string')
        expect((await ask(client, 'join', { room })).event).toBe('join');
      const answer = await ask(client, event, value);
      if (answer.event === 'error') expectValid('error', answer);
      expect(answer.event, `${event}: ${JSON.stringify(answer)}`).toBe(event);
      expectValid(replies[0]!, answer);
    }
  });

  it('the gateway refuses exactly what the request schemas refuse: a missing required field, no data, an undeclared field', async () => {
    const client = await open();
    const disagreements: string[] = [];
    let refusedForMissing = 0;
    for (const { event, request, data, example } of sends()) {
      const valid = example !== undefined ? example : sample(data);
      const schema = deref<Schema>(data);
      const variants: Array<[string, { data?: unknown }]> = [
        ['no data', {}],
        ['undeclared field', { data: { ...(valid as object), walkExtra: 1 } }],
      ];
      const required = (schema.required ?? []) as string[];
      if (required.length > 0) {
        const { [required[0]!]: _, ...missing } = valid as Schema;
        variants.push([`no ${required[0]}`, { data: missing }]);
      }
      for (const [variant, body] of variants) {
        if (typeof valid !== 'object' && variant === 'undeclared field')
          continue;
        const frame = { event, ...body, id: 'walk' };
        const documented = validator(request)(frame);
        const answer = await ask(client, event, body.data);
        // The only state a refused valid request could meet here: `presence` and `leave` of a
        // room this connection is not in are answered, or FORBIDDEN, never BAD_REQUEST.
        const refused =
          answer.event === 'error' &&
          (answer.data as { code: string }).code === 'BAD_REQUEST';
        if (answer.event === 'error') expectValid('error', answer);
        else expectValid(`${request.slice(0, -8)}.reply`, answer);
        if (documented === refused)
          disagreements.push(
            `${event} with ${variant}: the document ${documented ? 'accepts' : 'refuses'} it, the gateway ${refused ? 'refuses' : 'accepts'} it`,
          );
        if (variant.startsWith('no ') && variant !== 'no data' && refused) {
          refusedForMissing++;
          expect(
            (
              answer.data as { details?: Array<{ field: string }> }
            ).details?.map((d) => d.field),
          ).toContain(required[0]);
        }
      }
    }
    expect(disagreements).toEqual([]);
    expect(refusedForMissing).toBeGreaterThan(0);
  });

  it('every event the gateway answers is documented, and an undocumented one is UNKNOWN_EVENT', async () => {
    const discovery = gateway.app.get(DiscoveryService, { strict: false });
    const scanner = new MetadataScanner();
    const answered = new Set<string>();
    for (const { metatype } of discovery.getProviders()) {
      const type = metatype as { prototype: Record<string, object> } | null;
      if (!type || !Reflect.getMetadata(GATEWAY_METADATA, type)) continue;
      for (const name of scanner.getAllMethodNames(type.prototype)) {
        const method = type.prototype[name];
        if (!Reflect.getMetadata(MESSAGE_MAPPING_METADATA, method)) continue;
        answered.add(Reflect.getMetadata(MESSAGE_METADATA, method) as string);
      }
    }
    const documented = sends().map((s) => s.event);
    expect(documented.toSorted()).toEqual([...answered].sort());

    const client = await open();
    const undocumented = 'walk.undocumented';
    expect(documented).not.toContain(undocumented);
    const answer = await ask(client, undocumented, { text: 'walk' });
    expectValid('error', answer);
    expect(answer.data).toMatchObject({ code: 'UNKNOWN_EVENT' });
  });

  it('the error frames of malformed requests validate against the error message, with a documented code', async () => {
    const codes = (
      doc.components.schemas.ErrorPayload as {
        properties: { code: { enum: string[] } };
      }
    ).properties.code.enum;
    const client = await open();
    client.send('{"event": "echo", "data": ');
    client.sendJson({ data: 1, id: 'walk-no-event' });
    client.sendJson({ event: 'echo', id: { walk: true } });
    for (let i = 0; i < 3; i++) {
      const frame = await client.nextJson();
      expectValid('error', frame);
      expect(codes).toContain((frame.data as { code: string }).code);
    }
  });

  it('every documented push happens as documented: broadcast, message, presence', async () => {
    const pushes = Object.values(doc.operations)
      .filter((op) => op.action === 'receive')
      .map((op) => deref<Message>(op.messages[0]).name);
    expect(pushes.toSorted()).toEqual(['broadcast', 'message', 'presence']);
    const sender = await open(TEST_TOKEN);
    const receiver = await open(OTHER_TOKEN);
    const seen = new Set<string>();

    // broadcast: every other client gets it.
    const broadcast = doc.components.messages['broadcast.request']!;
    expect(
      (await ask(sender, 'broadcast', broadcast.examples?.[0]?.payload.data))
        .event,
    ).toBe('broadcast');
    seen.add((await until(receiver, (f) => f.event === 'broadcast')).event);

    // message: a publish to a room the receiver joined.
    expect((await ask(receiver, 'join', { room: 'walk-pushes' })).event).toBe(
      'join',
    );
    const published = await ask(sender, 'publish', {
      room: 'walk-pushes',
      data: { text: 'walk' },
    });
    expectValid('publish.reply', published);
    seen.add((await until(receiver, (f) => f.event === 'message')).event);

    // presence: the receiver joins with presence, the sender's join comes as a diff.
    const joined = await ask(receiver, 'join', {
      room: 'walk-presence',
      presence: true,
    });
    expectValid('join.reply', joined);
    expect(joined.data).toMatchObject({ presence: { count: 1 } });
    expect((await ask(sender, 'join', { room: 'walk-presence' })).event).toBe(
      'join',
    );
    const diff = await until(
      receiver,
      (f) =>
        f.event === 'presence' &&
        (f.data as { joined?: unknown[] }).joined?.length === 1 &&
        (f.data as { joined: Array<{ id: string }> }).joined[0]!.id !==
          (joined.data as { presence: { members: Array<{ id: string }> } })
            .presence.members[0]!.id,
    );
    seen.add(diff.event);
    expect([...seen].sort()).toEqual(pushes.toSorted());
  });

  it('a resume whose room is refused answers a failure entry the document describes', async () => {
    const client = await open();
    for (let i = 0; i < MAX_ROOMS; i++)
      await ask(client, 'join', { room: `walk-full-${i}` });
    const answer = await ask(client, 'resume', {
      rooms: [{ room: 'walk-one-too-many' }],
    });
    expect(answer.data).toMatchObject({
      rooms: [{ room: 'walk-one-too-many', error: { code: 'FORBIDDEN' } }],
    });
    expectValid('resume.reply', answer);
  });
});
