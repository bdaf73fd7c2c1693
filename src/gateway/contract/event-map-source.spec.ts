import { format } from 'prettier';
import ts from 'typescript';
import {
  contractEvents,
  eventMapSource,
  GENERATED_HEADER,
  typeText,
} from './event-map-source.js';

type Doc = Record<string, unknown>;

/** A document of the gateway's form: one channel per path, envelopes, the given schemas. */
function documentOf(options: {
  schemas?: Record<string, unknown>;
  /** Per path: events with their request data, reply data and whether data is required. */
  paths?: Record<
    string,
    {
      events?: Record<
        string,
        { data: unknown; reply?: unknown; required?: boolean; summary?: string }
      >;
      pushes?: Record<string, unknown>;
    }
  >;
}): Doc {
  const channels: Doc = {};
  const operations: Doc = {};
  const messages: Doc = {};
  const paths = options.paths ?? {};
  const keys = Object.keys(paths);
  for (const path of keys) {
    const channel =
      keys.length === 1 ? 'gateway' : `gateway${path.replace(/\W/g, '_')}`;
    channels[channel] = { address: path, messages: {} };
    const envelope = (event: string, data: unknown, required: string[]) => ({
      type: 'object',
      properties: { event: { const: event }, data },
      required,
    });
    for (const [event, spec] of Object.entries(paths[path].events ?? {})) {
      messages[`${channel}.${event}.request`] = {
        name: event,
        payload: envelope(
          event,
          spec.data,
          spec.required ? ['event', 'data'] : ['event'],
        ),
      };
      messages[`${channel}.${event}.reply`] = {
        name: event,
        payload: envelope(event, spec.reply ?? {}, ['event', 'data']),
      };
      operations[`${channel}.send.${event}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${channel}` },
        summary: spec.summary,
        messages: [
          { $ref: `#/components/messages/${channel}.${event}.request` },
        ],
        reply: {
          messages: [
            { $ref: `#/components/messages/${channel}.${event}.reply` },
            { $ref: '#/components/messages/error' },
          ],
        },
      };
    }
    for (const [event, data] of Object.entries(paths[path].pushes ?? {})) {
      messages[`${channel}.${event}.push`] = {
        name: event,
        payload: envelope(event, data, ['event', 'data']),
      };
      operations[`${channel}.receive.${event}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${channel}` },
        messages: [{ $ref: `#/components/messages/${channel}.${event}.push` }],
      };
    }
  }
  messages.error = {
    name: 'error',
    payload: {
      type: 'object',
      properties: { event: { const: 'error' }, data: {} },
    },
  };
  return {
    asyncapi: '3.0.0',
    info: { title: 'chat', version: '1.2.3' },
    channels,
    operations,
    components: { schemas: options.schemas ?? {}, messages },
  };
}

/** The module for one schema `T`, and the declaration of `T` alone. */
function declarationOf(schema: unknown): string {
  const source = eventMapSource(documentOf({ schemas: { T: schema } }), {
    name: 'Events',
  });
  // The header, then one block per declaration.
  return `${source.split('\n\n')[1]}\n`;
}

const prettier = (source: string) =>
  format(source, {
    parser: 'typescript',
    singleQuote: true,
    trailingComma: 'all',
  });

/** The TypeScript compiler's errors for a module, type-checked alone and strictly. */
function compileErrors(source: string): string[] {
  const file = '/generated.ts';
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.fileExists = (name) => name === file || ts.sys.fileExists(name);
  host.getSourceFile = (name, version) =>
    name === file
      ? ts.createSourceFile(name, source, version)
      : getSourceFile(name, version);
  const program = ts.createProgram([file], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('eventMapSource', () => {
  describe('JSON Schema to TypeScript', () => {
    it('makes an object an interface: required properties plain, the others optional', () => {
      expect(
        declarationOf({
          type: 'object',
          properties: { room: { type: 'string' }, limit: { type: 'integer' } },
          required: ['room'],
        }),
      ).toBe('export interface T {\n  room: string;\n  limit?: number;\n}\n');
    });

    it('maps the primitive types, null and the array', () => {
      const cases: Array<[unknown, string]> = [
        [{ type: 'string' }, 'string'],
        [{ type: 'integer' }, 'number'],
        [{ type: 'number' }, 'number'],
        [{ type: 'boolean' }, 'boolean'],
        [{ type: 'null' }, 'null'],
        [{ type: 'array', items: { type: 'string' } }, 'string[]'],
        [{ type: 'array' }, 'unknown[]'],
        [
          {
            type: 'array',
            items: { type: 'array', items: { type: 'number' } },
          },
          'number[][]',
        ],
        [{ type: ['string', 'null'] }, 'string | null'],
        [
          { type: 'array', items: { type: ['string', 'number'] } },
          '(string | number)[]',
        ],
      ];
      for (const [schema, expected] of cases)
        expect(declarationOf(schema)).toBe(`export type T = ${expected};\n`);
    });

    it('makes an enum and a const literal types, quoted as prettier quotes them', () => {
      expect(
        declarationOf({ enum: ['a', 1, true, null, "it's", 'say "hi"'] }),
      ).toBe(`export type T = 'a' | 1 | true | null | "it's" | 'say "hi"';\n`);
      expect(declarationOf({ const: 'chat.say' })).toBe(
        "export type T = 'chat.say';\n",
      );
      expect(declarationOf({ const: 'back\\slash\nline' })).toBe(
        "export type T = 'back\\\\slash\\nline';\n",
      );
    });

    it('makes oneOf and anyOf unions, flattened, without repeats', () => {
      expect(
        declarationOf({
          oneOf: [
            { type: 'string' },
            { anyOf: [{ type: 'number' }, { type: 'string' }] },
          ],
        }),
      ).toBe('export type T = string | number;\n');
      // A sibling `type` of a union says nothing more.
      expect(
        declarationOf({
          type: 'object',
          oneOf: [{ $ref: '#/components/schemas/T' }, { type: 'boolean' }],
        }),
      ).toBe('export type T = T | boolean;\n');
    });

    it('names a $ref by its schema, whatever its siblings say', () => {
      const source = eventMapSource(
        documentOf({
          schemas: {
            Position: {
              type: 'object',
              properties: { offset: { type: 'integer' } },
            },
            Join: {
              type: 'object',
              properties: {
                since: {
                  $ref: '#/components/schemas/Position',
                  type: 'object',
                },
              },
            },
          },
        }),
        { name: 'Events' },
      );
      expect(source).toContain(
        'export interface Join {\n  since?: Position;\n}\n',
      );
    });

    it('reads an empty schema, a lone description, and what it does not know as unknown', () => {
      expect(declarationOf({})).toBe('export type T = unknown;\n');
      expect(declarationOf({ description: 'any JSON value' })).toBe(
        '/** any JSON value */\nexport type T = unknown;\n',
      );
      expect(
        declarationOf({ allOf: [{ type: 'string' }, { type: 'number' }] }),
      ).toBe('export type T = unknown;\n');
      expect(declarationOf({ not: { type: 'string' } })).toBe(
        'export type T = unknown;\n',
      );
      // `unknown` absorbs the rest of a union.
      expect(declarationOf({ oneOf: [{ type: 'string' }, {}] })).toBe(
        'export type T = unknown;\n',
      );
    });

    it('writes additionalProperties as an index signature that TypeScript accepts', () => {
      expect(declarationOf({ type: 'object' })).toBe(
        'export interface T {\n  [key: string]: unknown;\n}\n',
      );
      expect(
        declarationOf({
          type: 'object',
          properties: { a: { type: 'string' } },
          additionalProperties: false,
        }),
      ).toBe('export interface T {\n  a?: string;\n}\n');
      expect(
        declarationOf({ type: 'object', additionalProperties: false }),
      ).toBe('export type T = Record<string, never>;\n');
      expect(
        declarationOf({
          type: 'object',
          additionalProperties: { type: 'number' },
        }),
      ).toBe('export interface T {\n  [key: string]: number;\n}\n');
      // Every property's type is one of the index signature's, and `undefined` for an optional one.
      expect(
        declarationOf({
          type: 'object',
          properties: { a: { type: 'string' }, b: { type: 'boolean' } },
          required: ['b'],
          additionalProperties: { type: 'number' },
        }),
      ).toBe(
        'export interface T {\n  a?: string;\n  b: boolean;\n  [key: string]: number | string | boolean | undefined;\n}\n',
      );
    });

    it('writes inline objects on one line when they fit, else one member a line', () => {
      const source = declarationOf({
        type: 'object',
        properties: {
          details: {
            type: 'array',
            items: {
              type: 'object',
              properties: { field: { type: 'string' } },
              required: ['field'],
            },
          },
          nested: {
            type: 'object',
            properties: {
              aVeryLongPropertyNameThatTakesRoom: { type: 'string' },
              anotherVeryLongPropertyName: { type: 'string' },
            },
          },
        },
      });
      expect(source).toBe(
        [
          'export interface T {',
          '  details?: { field: string }[];',
          '  nested?: {',
          '    aVeryLongPropertyNameThatTakesRoom?: string;',
          '    anotherVeryLongPropertyName?: string;',
          '  };',
          '}',
          '',
        ].join('\n'),
      );
    });

    it('writes descriptions as TSDoc, long ones wrapped, `*/` kept from closing them', () => {
      const source = declarationOf({
        description: 'A room.',
        type: 'object',
        properties: {
          room: {
            type: 'string',
            description: `The room's name: letters, digits and ${'a few more words '.repeat(6)}*/ too.`,
          },
        },
      });
      expect(source).toContain('/** A room. */\nexport interface T {\n');
      expect(source).toContain("  /**\n   * The room's name: letters,");
      expect(source).toContain('*\\/ too.');
      for (const line of source.split('\n'))
        expect(line.length).toBeLessThanOrEqual(80);
    });

    it('names schemas as TypeScript allows: other characters as _, no reserved word, no repeat', () => {
      const source = eventMapSource(
        documentOf({
          schemas: {
            'chat.say': { type: 'string' },
            chat_say: { type: 'number' },
            string: { type: 'boolean' },
            '1st': { type: 'null' },
            Events: { type: 'string' },
          },
        }),
        { name: 'Events' },
      );
      expect(source).toContain('export type _1st = null;');
      expect(source).toContain('export type chat_say = string;');
      expect(source).toContain('export type chat_say2 = number;');
      expect(source).toContain('export type string_ = boolean;');
      // The map's name is taken first.
      expect(source).toContain('export type Events2 = string;');
      expect(compileErrors(source)).toEqual([]);
    });
  });

  describe('the map', () => {
    const schemas = {
      SayDto: {
        type: 'object',
        properties: { text: { type: 'string' }, to: { type: 'string' } },
        required: ['text'],
        additionalProperties: false,
      },
      Said: {
        type: 'object',
        properties: { id: { type: 'integer' } },
        required: ['id'],
      },
    };
    const doc = documentOf({
      schemas,
      paths: {
        '/ws': {
          events: {
            'chat.say': {
              data: { $ref: '#/components/schemas/SayDto' },
              reply: { $ref: '#/components/schemas/Said' },
              required: true,
              summary: 'Says something.',
            },
            'chat.ping': {
              data: { description: 'no data is read' },
              reply: { const: 'pong' },
            },
          },
          pushes: {
            'chat.said': {
              type: 'object',
              properties: { from: { type: 'string' } },
              required: ['from'],
            },
          },
        },
      },
    });

    it('has each request (its data and reply) and each push, sorted, named after the events', () => {
      const source = eventMapSource(doc, { name: 'ChatEvents' });
      expect(source.startsWith(`${GENERATED_HEADER}\n// chat 1.2.3\n\n`)).toBe(
        true,
      );
      expect(source).toContain('export type ChatSayRequest = SayDto;');
      expect(source).toContain('export type ChatSayReply = Said;');
      expect(source).toContain(
        '/** The request data of `chat.ping`: no data is read. */\nexport type ChatPingRequest = unknown;',
      );
      expect(source).toContain("export type ChatPingReply = 'pong';");
      expect(source).toContain(
        'export interface ChatSaidPush {\n  from: string;\n}',
      );
      expect(source).toContain(
        [
          'export interface ChatEvents {',
          "  /** Each event a client may send: its request's data and its reply's data. */",
          '  requests: {',
          "    'chat.ping': { data?: ChatPingRequest; reply: ChatPingReply };",
          '    /** Says something. */',
          "    'chat.say': { data: ChatSayRequest; reply: ChatSayReply };",
          '  };',
          '  /** Each push the server sends: its data. */',
          '  pushes: {',
          "    'chat.said': ChatSaidPush;",
          '  };',
          '}',
        ].join('\n'),
      );
      expect(source).not.toMatch(/^import /m);
      expect(compileErrors(source)).toEqual([]);
    });

    it('leaves data optional where the envelope does not require it', () => {
      const { requests } = contractEvents(doc);
      expect(
        requests.map(({ event, dataOptional }) => [event, dataOptional]),
      ).toEqual([
        ['chat.ping', true],
        ['chat.say', false],
      ]);
    });

    it('uses a schema named as the alias would be rather than a second name for it', () => {
      const source = eventMapSource(
        documentOf({
          schemas: {
            ChatSayRequest: { type: 'object', properties: {} },
            ChatSayReply: { type: 'string' },
          },
          paths: {
            '/': {
              events: {
                'chat.say': {
                  data: { $ref: '#/components/schemas/ChatSayRequest' },
                  // Another type than the schema of that name: written in place.
                  reply: { type: 'number' },
                },
              },
            },
          },
        }),
        { name: 'Events' },
      );
      expect(source).toContain(
        "'chat.say': { data?: ChatSayRequest; reply: number };",
      );
      expect(source.match(/export type ChatSayRequest/g)).toBeNull();
      expect(compileErrors(source)).toEqual([]);
    });

    it('merges the paths: an event on two takes the first path’s schemas and says so', () => {
      const source = eventMapSource(
        documentOf({
          paths: {
            '/b': {
              events: { ping: { data: { type: 'string' } } },
              pushes: { tick: { type: 'number' } },
            },
            '/a': {
              events: {
                ping: { data: { type: 'number' } },
                only: { data: {} },
              },
              pushes: { tick: { type: 'number' } },
            },
          },
        }),
        { name: 'Events' },
      );
      expect(source).toContain('export type PingRequest = number;');
      expect(source).toContain(
        "    /** `/b` has other schemas for it: these are `/a`'s. */\n    ping: {",
      );
      expect(source).toContain('export type TickPush = number;');
      expect(source).not.toContain("these are `/a`'s. */\n    tick");
    });

    it('is the same for the same document, whatever the order of its operations and schemas', () => {
      const shuffled = (value: unknown): unknown =>
        Array.isArray(value)
          ? value.map(shuffled)
          : value !== null && typeof value === 'object'
            ? Object.fromEntries(
                Object.entries(value)
                  .reverse()
                  .map(([k, v]) => [
                    k,
                    k === 'properties' || k === 'required' ? v : shuffled(v),
                  ]),
              )
            : value;
      const source = eventMapSource(doc, { name: 'ChatEvents' });
      expect(eventMapSource(shuffled(doc) as Doc, { name: 'ChatEvents' })).toBe(
        source,
      );
      expect(eventMapSource(doc, { name: 'ChatEvents' })).toBe(source);
    });

    it('refuses a map name TypeScript would not take', () => {
      expect(() => eventMapSource(doc, { name: 'chat events' })).toThrow(
        /not a name/,
      );
      expect(() => eventMapSource(doc, { name: 'string' })).toThrow(
        /not a name/,
      );
    });
  });

  it('gives the page a schema as a one-line type, the schemas by their keys', () => {
    const doc = documentOf({ schemas: { 'a.b': { type: 'string' } } });
    expect(
      typeText(doc, {
        type: 'object',
        properties: {
          x: { $ref: '#/components/schemas/a.b', description: 'left out' },
        },
      }),
    ).toBe('{ x?: a.b }');
  });

  describe('the layout: what prettier would write', () => {
    const long = (n: number) => 'L'.repeat(n);
    const tricky: Record<string, unknown> = {
      UnionFits: { enum: ['a', 'b'] },
      UnionNextLine: { enum: [long(30), long(30)] },
      UnionBroken: { enum: [long(30), long(30), long(30)] },
      Hugged: {
        oneOf: [{ $ref: `#/components/schemas/${long(70)}` }, { type: 'null' }],
      },
      HuggedObject: {
        oneOf: [
          {
            type: 'object',
            properties: {
              [long(40)]: { type: 'string' },
              b: { type: 'string' },
            },
          },
          { type: 'null' },
        ],
      },
      ArrayOfUnion: {
        type: 'object',
        properties: {
          short: { type: 'array', items: { enum: ['a', 'b'] } },
          flatInside: { type: 'array', items: { enum: [long(30), long(30)] } },
          broken: {
            type: 'array',
            items: { enum: [long(30), long(30), long(30)] },
          },
        },
      },
      ObjectsInUnion: {
        type: 'object',
        properties: {
          value: {
            oneOf: [
              {
                type: 'object',
                properties: { [long(60)]: { type: 'string' } },
              },
              { type: 'string' },
            ],
          },
        },
      },
      IndexSignature: {
        type: 'object',
        additionalProperties: { $ref: `#/components/schemas/${long(70)}` },
      },
      [long(70)]: { type: 'string' },
      LongAlias: { $ref: `#/components/schemas/${long(70)}` },
      DocumentedInside: {
        type: 'object',
        properties: {
          inner: {
            type: 'object',
            properties: { a: { type: 'string', description: 'An a.' } },
          },
        },
      },
    };

    it('writes the tricky cases as prettier does', async () => {
      const source = eventMapSource(documentOf({ schemas: tricky }), {
        name: 'Events',
      });
      expect(await prettier(source)).toBe(source);
      expect(compileErrors(source)).toEqual([]);
    });

    it('writes random documents as prettier does', async () => {
      // A small seeded generator: the same documents on every run.
      let seed = 20_261_201;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      const pick = <T>(items: T[]): T =>
        items[Math.floor(random() * items.length)];
      const word = (max: number) =>
        'w'.repeat(1 + Math.floor(random() * max)) + pick(['', 'X', '_y']);
      const names: string[] = [];
      const schema = (depth: number): unknown => {
        const r = random();
        if (depth > 4 || r < 0.25)
          return pick<unknown>([
            { type: 'string' },
            { type: 'integer' },
            { type: 'null' },
            {},
            { const: word(40) },
            { enum: [word(20), word(20), 1, null] },
            names.length > 0
              ? { $ref: `#/components/schemas/${pick(names)}` }
              : { type: 'boolean' },
          ]);
        if (r < 0.4) return { type: 'array', items: schema(depth + 1) };
        if (r < 0.5) return { oneOf: [schema(depth + 1), { type: 'null' }] };
        if (r < 0.65)
          return {
            oneOf: [schema(depth + 1), schema(depth + 1), schema(depth + 1)],
          };
        if (r < 0.7)
          return { type: 'object', additionalProperties: schema(depth + 1) };
        const properties: Record<string, unknown> = {};
        for (let i = 0; i < 1 + Math.floor(random() * 4); i++) {
          const key = random() < 0.1 ? `${word(5)}-${word(5)}` : word(40);
          properties[key] = schema(depth + 1);
          if (random() < 0.2)
            (properties[key] as Record<string, unknown>).description =
              `${word(30)} ${word(30)} ${word(30)}`;
        }
        return {
          type: 'object',
          properties,
          required: Object.keys(properties).filter(() => random() < 0.5),
        };
      };
      for (let run = 0; run < 40; run++) {
        names.length = 0;
        for (let i = 0; i < 4; i++) names.push(`N${word(60)}${i}`);
        const schemas = Object.fromEntries(names.map((n) => [n, schema(0)]));
        const source = eventMapSource(
          documentOf({
            schemas,
            paths: {
              '/': {
                events: {
                  [`${word(20)}.x`]: { data: schema(1), reply: schema(1) },
                },
                pushes: { [word(20)]: schema(1) },
              },
            },
          }),
          { name: 'Events' },
        );
        expect(await prettier(source)).toBe(source);
      }
    });
  });
});
