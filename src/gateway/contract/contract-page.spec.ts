import { format } from 'prettier';
import { contractPage } from './contract-page.js';

type Doc = Record<string, unknown>;

const SAY_DTO = {
  type: 'object',
  properties: {
    text: {
      type: 'string',
      minLength: 1,
      maxLength: 500,
      description: 'What is said.',
    },
    to: { type: 'string', pattern: '^[a-z|]+$' },
  },
  required: ['text'],
  additionalProperties: false,
};

/** A document of the gateway's form with two paths, a push on both, close codes and examples. */
function chatDocument(): Doc {
  const envelope = (event: string, data: unknown, required: string[]) => ({
    type: 'object',
    properties: {
      event: { const: event, maxLength: 128 },
      data,
      id: { $ref: '#/components/schemas/RequestId' },
    },
    required,
  });
  const send = (channel: string, event: string) => ({
    action: 'send',
    channel: { $ref: `#/channels/${channel}` },
    summary: `Does ${event}.`,
    messages: [{ $ref: `#/channels/${channel}/messages/${event}.request` }],
    reply: {
      messages: [
        { $ref: `#/channels/${channel}/messages/${event}.reply` },
        { $ref: `#/channels/${channel}/messages/error` },
      ],
    },
  });
  const channelMessages = {
    error: { $ref: '#/components/messages/error' },
    'chat.say.request': { $ref: '#/components/messages/chat.say.request' },
    'chat.say.reply': { $ref: '#/components/messages/chat.say.reply' },
    'chat.said.push': { $ref: '#/components/messages/chat.said.push' },
  };
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'chat',
      version: '2.0.0',
      description:
        'The chat protocol.\n\nClose codes:\n\n- 1000: a normal close',
      'x-close-codes': [
        { code: 1000, meaning: 'a normal close' },
        { code: 4401, meaning: 'the token | expired' },
      ],
    },
    servers: {
      gateway: {
        host: 'localhost:8765',
        protocol: 'ws',
        description: 'Give your own host.',
        security: [{ $ref: '#/components/securitySchemes/bearer' }],
      },
    },
    channels: {
      gateway_b: {
        address: '/b',
        description: 'One JSON envelope per text frame.',
        messages: channelMessages,
      },
      gateway_a: {
        address: '/a',
        description: 'One JSON envelope per text frame.',
        messages: {
          ...channelMessages,
          'ping.request': { $ref: '#/components/messages/ping.request' },
          'ping.reply': { $ref: '#/components/messages/ping.reply' },
        },
      },
    },
    operations: {
      'gateway_b.send.chat.say': send('gateway_b', 'chat.say'),
      'gateway_a.send.chat.say': send('gateway_a', 'chat.say'),
      'gateway_a.send.ping': send('gateway_a', 'ping'),
      'gateway_a.receive.chat.said': {
        action: 'receive',
        channel: { $ref: '#/channels/gateway_a' },
        summary: 'Someone said something.',
        messages: [{ $ref: '#/channels/gateway_a/messages/chat.said.push' }],
      },
    },
    components: {
      schemas: {
        SayDto: SAY_DTO,
        Said: {
          description: 'What was said, and its id.',
          type: 'object',
          properties: { id: { type: 'integer', minimum: 1 } },
          required: ['id'],
        },
        RequestId: {
          description: "A request's id.",
          oneOf: [{ type: 'string', maxLength: 128 }, { type: 'number' }],
        },
        ErrorPayload: {
          type: 'object',
          properties: {
            code: { type: 'string', enum: ['BAD_REQUEST', 'INTERNAL'] },
            message: { type: 'string' },
          },
          required: ['code', 'message'],
        },
      },
      messages: {
        error: {
          name: 'error',
          summary: 'The answer to a request that failed.',
          payload: envelope(
            'error',
            { $ref: '#/components/schemas/ErrorPayload' },
            ['event', 'data'],
          ),
        },
        'chat.say.request': {
          name: 'chat.say',
          description: 'Says it to the room.',
          payload: envelope(
            'chat.say',
            { $ref: '#/components/schemas/SayDto' },
            ['event', 'data'],
          ),
          examples: [
            { payload: { event: 'chat.say', data: { text: 'hi' }, id: 1 } },
          ],
        },
        'chat.say.reply': {
          name: 'chat.say',
          payload: envelope('chat.say', { $ref: '#/components/schemas/Said' }, [
            'event',
            'data',
          ]),
          examples: [
            {
              payload: {
                event: 'chat.say',
                data: { id: 7, words: ['a', 'long', 'list', 'of', 'words'] },
                id: 'a-request-id-long-enough-to-break-the-line',
              },
            },
          ],
        },
        'ping.request': {
          name: 'ping',
          payload: envelope('ping', { description: 'no data is read' }, [
            'event',
          ]),
        },
        'ping.reply': {
          name: 'ping',
          payload: envelope('ping', { enum: ['pong', 'pang'] }, [
            'event',
            'data',
          ]),
        },
        'chat.said.push': {
          name: 'chat.said',
          payload: {
            type: 'object',
            properties: {
              event: { const: 'chat.said' },
              data: {
                type: 'object',
                properties: { from: { type: 'string' } },
                required: ['from'],
              },
            },
            required: ['event', 'data'],
          },
          examples: [
            { payload: { event: 'chat.said', data: { from: 'alice' } } },
          ],
        },
      },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A token at the handshake.',
        },
      },
    },
  };
}

/** The part of the page under a heading, up to the next heading of that level or above. */
function section(page: string, heading: string): string {
  const start = page.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no heading ${heading}`);
  const level = heading.split(' ')[0];
  const next = page
    .slice(start + heading.length + 2)
    .search(new RegExp(`^#{1,${level.length}} `, 'm'));
  return next === -1
    ? page.slice(start + 1)
    : page.slice(start + 1, start + heading.length + 2 + next);
}

describe('contractPage', () => {
  const page = contractPage(chatDocument());

  it('starts with the title, the description without its close codes, and the contents', () => {
    expect(page).toMatch(
      /^<!-- Generated by nest-ws-gateway-contract from the AsyncAPI document: do not edit. -->\n\n# chat 2\.0\.0\n\nThe chat protocol\.\n\n/,
    );
    expect(page).not.toContain('- 1000: a normal close');
    expect(page).toContain(
      '- [Events](#events): [`chat.say`](#chatsay), [`ping`](#ping)',
    );
    expect(page).toContain(
      '- [Pushes](#pushes): [`chat.said`](#chatsaid-push)',
    );
  });

  it('says how to connect: the server, the paths and their events, how to authenticate', () => {
    const connecting = section(page, '## Connecting');
    expect(connecting).toContain(
      '| `gateway` | `ws://localhost:8765` | Give your own host. |',
    );
    expect(connecting).toContain('| `/a` | `chat.say`, `ping` | `chat.said` |');
    expect(connecting).toContain('| `/b` | `chat.say`         |             |');
    expect(connecting).toContain(
      'Authenticate at the handshake with:\n\n- `Authorization: Bearer <token>`: A token at the handshake.',
    );
  });

  it('describes the envelope', () => {
    const frames = section(page, '## Frames');
    expect(frames).toContain('One JSON envelope per text frame.');
    expect(frames).toMatch(
      /\| `event` \| `string` +\| yes +\| the event's name, at most 128 characters +\|/,
    );
    expect(frames).toMatch(
      /\| `id` +\| `RequestId` \| no +\| A request's id\. +\|/,
    );
  });

  it('shows each event: its words, its paths, its data as tables of fields, its examples', () => {
    const say = section(page, '### `chat.say`');
    expect(say).toContain('Does chat.say.\n\nSays it to the room.');
    expect(say).toContain('At `/a`, `/b`.');
    expect(say).toContain('**Request data** (required): [`SayDto`](#saydto)');
    expect(say).toMatch(
      /\| `text` \| `string` \| yes +\| What is said\.; 1 to 500 characters +\|/,
    );
    // A `|` inside a cell is escaped, in a code span too.
    expect(say).toContain('pattern `^[a-z\\|]+$`');
    expect(say).toContain('No other field.');
    expect(say).toContain('**Reply data**: [`Said`](#said)');
    expect(say).toContain(
      'Example request:\n\n```json\n{ "event": "chat.say", "data": { "text": "hi" }, "id": 1 }\n```',
    );
    expect(say).toContain(
      'Its reply:\n\n```json\n{\n  "event": "chat.say",\n  "data": { "id": 7, "words": ["a", "long", "list", "of", "words"] },\n  "id": "a-request-id-long-enough-to-break-the-line"\n}\n```',
    );
    const ping = section(page, '### `ping`');
    expect(ping).toContain(
      '**Request data** (may be left out): any JSON value (no data is read)',
    );
    expect(ping).toContain("**Reply data**: `'pong' | 'pang'`");
  });

  it('shows each push, an inline object as a table', () => {
    const said = section(page, '### `chat.said` push');
    expect(said).toContain('Someone said something.');
    expect(said).toContain('**Data**: an object\n\n| Field  | Type     |');
    expect(said).toContain(
      '```json\n{ "event": "chat.said", "data": { "from": "alice" } }\n```',
    );
  });

  it('has the error frame and its codes, and the close codes', () => {
    const errors = section(page, '## Errors');
    expect(errors).toContain('The answer to a request that failed.');
    expect(errors).toContain('**Error data**: [`ErrorPayload`](#errorpayload)');
    expect(errors).toContain('The codes: `BAD_REQUEST`, `INTERNAL`.');
    expect(section(page, '## Close codes')).toContain(
      '| 4401 | the token \\| expired |',
    );
  });

  it('lists every schema under Types, with its description', () => {
    const types = section(page, '## Types');
    expect(types.match(/^### /gm)).toHaveLength(4);
    expect(section(page, '### `Said`')).toContain('What was said, and its id.');
    expect(section(page, '### `RequestId`')).toContain('`string | number`');
  });

  it('numbers headings that repeat, as GitHub does', () => {
    const doc = chatDocument();
    // A push named as an event's heading would be: `chat.say` push is `chatsay-push`, no clash;
    // a type named `chatsay` is.
    (doc.components as Doc).schemas = {
      ...((doc.components as Doc).schemas as Doc),
      'chat.say': { type: 'string' },
    };
    const repeated = contractPage(doc);
    expect(repeated).toContain('[`chat.say`](#chatsay)');
    expect(repeated).toContain('### `chat.say`\n\n`string`');
  });

  it('is the same for the same document, whatever the order of its keys', () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [
                  k,
                  // Property and example order are the document's meaning: kept.
                  k === 'properties' || k === 'payload' || k === 'required'
                    ? v
                    : reversed(v),
                ]),
            )
          : value;
    expect(contractPage(reversed(chatDocument()) as Doc)).toBe(page);
  });

  it('is Markdown as prettier writes it', async () => {
    expect(await format(page, { parser: 'markdown' })).toBe(page);
  });

  it('says so when the document has no events, pushes or close codes', () => {
    const empty = contractPage({ asyncapi: '3.0.0', info: { title: 'x' } });
    expect(section(empty, '## Events')).toContain('None.');
    expect(section(empty, '## Pushes')).toContain('None.');
    expect(section(empty, '## Close codes')).toContain(
      'The document lists none.',
    );
  });
});
