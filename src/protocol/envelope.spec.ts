import { ErrorCode } from './error-codes.js';
import {
  InvalidEnvelopeError,
  isEnvelopeText,
  MAX_EVENT_LENGTH,
  MAX_ID_LENGTH,
  nestsDeeperThan,
  parseEnvelope,
  parseFrame,
} from './envelope.js';
import { GatewayError } from './gateway-error.js';

/** Parses `text`, expecting an {@link InvalidEnvelopeError}, and returns that error. */
function invalid(text: string, maxDepth?: number): InvalidEnvelopeError {
  try {
    parseEnvelope(text, maxDepth);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidEnvelopeError);
    return err as InvalidEnvelopeError;
  }
  throw new Error(`parseEnvelope accepted ${text}`);
}

/**
 * A stand-in for `source` offering what {@link nestsDeeperThan} reads of a string (`length`,
 * `charCodeAt`, `indexOf`), which counts how often each character was read: once per
 * `charCodeAt`, once per `indexOf` search going over it. It measures the scan's work instead of
 * its time; a scan reading the text any other way fails on it rather than going unseen.
 */
function reading(source: string) {
  // Per character, up to 255: enough to tell once and twice from more.
  const reads = new Uint8Array(source.length);
  let furthest = -1;
  let mostReads = 0;
  let read = 0;
  const see = (i: number) => {
    if (reads[i] === 0) read++;
    if (reads[i] < 255) reads[i]++;
    if (reads[i] > mostReads) mostReads = reads[i];
    if (i > furthest) furthest = i;
  };
  const text = {
    length: source.length,
    charCodeAt(i: number): number {
      if (i >= 0 && i < source.length) see(i);
      return source.charCodeAt(i);
    },
    indexOf(search: string, from = 0): number {
      const found = source.indexOf(search, from);
      const end = found === -1 ? source.length : found + search.length;
      for (let i = Math.max(from, 0); i < end; i++) see(i);
      return found;
    },
  } as unknown as string;
  return {
    text,
    /** The index of the last character read. */
    furthest: () => furthest,
    /** How often the most read character was read. */
    mostReads: () => mostReads,
    /** Characters never read. */
    unread: () => source.length - read,
  };
}

describe('isEnvelopeText', () => {
  it.each([
    ['{}', '{"event":"echo"}'],
    ['leading spaces', '   {"event":"echo"}'],
    ['leading tabs', '\t\t{"event":"echo"}'],
    ['leading newlines', '\n\r\n{"event":"echo"}'],
    ['mixed blanks', ' \t\r\n {'],
    ['a lone brace', '{'],
  ])('accepts a frame opening with "{" (%s)', (_, text) => {
    expect(isEnvelopeText(text)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['only blanks', ' \t\r\n '],
    ['plain text', 'Hello world!'],
    ['a JSON array', '[{"event":"echo"}]'],
    ['a JSON string', '"{"'],
    ['text before the brace', 'x{"event":"echo"}'],
    ['a form feed is not a blank here', '\f{"event":"echo"}'],
    ['a non-breaking space is not a blank here', '\u00a0{"event":"echo"}'],
  ])('treats %s as plain text', (_, text) => {
    expect(isEnvelopeText(text)).toBe(false);
  });
});

describe('parseEnvelope', () => {
  it('parses event, data and a string id', () => {
    expect(
      parseEnvelope('{"event":"echo","data":{"a":[1,2]},"id":"r1"}'),
    ).toEqual({ event: 'echo', data: { a: [1, 2] }, id: 'r1' });
  });

  it('parses a numeric id, including 0', () => {
    expect(parseEnvelope('{"event":"echo","id":0}').id).toBe(0);
    expect(parseEnvelope('{"event":"echo","id":-1.5}').id).toBe(-1.5);
  });

  it('accepts an envelope preceded by blanks', () => {
    expect(parseEnvelope(' \n\t{"event":"echo"}').event).toBe('echo');
  });

  it('leaves data and id undefined when absent', () => {
    const envelope = parseEnvelope('{"event":"echo"}');
    expect(envelope.data).toBeUndefined();
    expect(envelope.id).toBeUndefined();
  });

  it.each([
    ['null', null],
    ['false', false],
    ['0', 0],
    ['a string', 'text'],
    ['an array', [1, { b: null }]],
    ['a nested object', { a: { b: { c: [true] } } }],
  ])('passes data through unchanged (%s)', (_, data) => {
    const envelope = parseEnvelope(JSON.stringify({ event: 'echo', data }));
    expect(envelope.data).toEqual(data);
  });

  it('ignores unknown envelope fields', () => {
    expect(parseEnvelope('{"event":"echo","extra":1}')).toEqual({
      event: 'echo',
      data: undefined,
      id: undefined,
    });
  });

  it('accepts an event and a string id at exactly the length limits', () => {
    const event = 'e'.repeat(MAX_EVENT_LENGTH);
    const id = 'i'.repeat(MAX_ID_LENGTH);
    expect(parseEnvelope(JSON.stringify({ event, id }))).toEqual({
      event,
      data: undefined,
      id,
    });
  });

  describe('refuses', () => {
    it('malformed JSON as BAD_REQUEST, with no id and no details', () => {
      const err = invalid('{"event":"echo",');
      expect(err).toBeInstanceOf(GatewayError);
      expect(err.code).toBe(ErrorCode.BAD_REQUEST);
      expect(err.message).toMatch(/^malformed JSON: /);
      expect(err.id).toBeUndefined();
      expect(err.details).toBeUndefined();
    });

    it('malformed JSON even when it looks like it carries an id', () => {
      expect(invalid('{"event":"echo","id":"r1"').id).toBeUndefined();
    });

    it.each([
      ['null', 'null'],
      ['a number', '42'],
      ['a string', '"echo"'],
      ['an array', '[{"event":"echo"}]'],
    ])('a JSON value that is not an object (%s)', (_, text) => {
      const err = invalid(text);
      expect(err.code).toBe(ErrorCode.BAD_REQUEST);
      expect(err.message).toBe('an envelope must be a JSON object');
      expect(err.id).toBeUndefined();
    });

    it.each([
      ['missing', {}],
      ['empty', { event: '' }],
      ['a number', { event: 7 }],
      ['null', { event: null }],
      ['an object', { event: { name: 'echo' } }],
    ])('an event that is %s', (_, envelope) => {
      const err = invalid(JSON.stringify(envelope));
      expect(err.code).toBe(ErrorCode.BAD_REQUEST);
      expect(err.message).toBe('invalid envelope');
      expect(err.details).toEqual([
        { field: 'event', message: 'must be a non-empty string' },
      ]);
    });

    it('an event longer than the limit', () => {
      const err = invalid(
        JSON.stringify({ event: 'e'.repeat(MAX_EVENT_LENGTH + 1) }),
      );
      expect(err.details).toEqual([
        {
          field: 'event',
          message: `must be at most ${MAX_EVENT_LENGTH} characters`,
        },
      ]);
    });

    it.each([
      ['true', true],
      ['an object', { n: 1 }],
      ['an array', [1]],
      ['null', null],
      ['a string longer than the limit', 'i'.repeat(MAX_ID_LENGTH + 1)],
    ])('an id that is %s, without echoing it back', (_, id) => {
      const err = invalid(JSON.stringify({ event: 'echo', id }));
      expect(err.code).toBe(ErrorCode.BAD_REQUEST);
      expect(err.details).toEqual([
        {
          field: 'id',
          message: `must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`,
        },
      ]);
      expect(err.id).toBeUndefined();
    });

    it('a numeric id that overflows to Infinity (1e400)', () => {
      const err = invalid('{"event":"echo","id":1e400}');
      expect(err.details?.map((d) => d.field)).toEqual(['id']);
      expect(err.id).toBeUndefined();
    });

    it('a bad id and a bad event together, listing both', () => {
      const err = invalid('{"event":"","id":true}');
      expect(err.details?.map((d) => d.field)).toEqual(['id', 'event']);
      expect(err.id).toBeUndefined();
    });

    it('a bad event but keeps a valid string id', () => {
      const err = invalid('{"id":"r7"}');
      expect(err.id).toBe('r7');
    });

    it('a bad event but keeps a valid numeric id, including 0', () => {
      expect(invalid('{"event":"","id":12}').id).toBe(12);
      expect(invalid('{"event":5,"id":0}').id).toBe(0);
    });
  });
});

describe('nestsDeeperThan', () => {
  const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it.each([
    ['a scalar', '1', 0],
    ['an empty object', '{}', 1],
    ['an empty array', '[]', 1],
    ['siblings, not nesting', '[[],[],{},{"a":[]}]', 3],
    ['objects in arrays', '[{"a":[{"b":1}]}]', 4],
    ['64 arrays', arrays(64), 64],
  ])('measures %s', (_, text, depth) => {
    expect(nestsDeeperThan(text, depth)).toBe(false);
    if (depth > 0) expect(nestsDeeperThan(text, depth - 1)).toBe(true);
  });

  it.each([
    ['brackets in a string', '["[[[[{{{{"]', 1],
    ['an escaped quote before brackets', '["\\"[[[["]', 1],
    ['an escaped backslash ending a string', '["\\\\",[]]', 2],
    ['a key full of braces', '{"{{{{":[]}', 2],
    ['an escaped backslash, then an escaped quote', '["a\\\\\\"[[",[]]', 2],
    ['unicode escapes', '["\\u005b\\u007b",{}]', 2],
  ])('does not count %s', (_, text, depth) => {
    expect(() => JSON.parse(text) as unknown).not.toThrow();
    expect(nestsDeeperThan(text, depth)).toBe(false);
    expect(nestsDeeperThan(text, depth - 1)).toBe(true);
  });

  it('leaves malformed text for JSON.parse: an unterminated string ends the scan', () => {
    expect(nestsDeeperThan('[[["[[[[', 3)).toBe(false);
    expect(nestsDeeperThan('[[["[[[[', 2)).toBe(true);
  });

  it('reads the text through its stand-in as it reads a string', () => {
    const text = '{"a\\"\\\\":["[{",[]],"b":{}}';
    for (const depth of [1, 2, 3, 4]) {
      expect(nestsDeeperThan(reading(text).text, depth)).toBe(
        nestsDeeperThan(text, depth),
      );
    }
  });

  it('stops at the first level past the limit, at any length', () => {
    const text = reading(arrays(5_000_000));
    expect(nestsDeeperThan(text.text, 64)).toBe(true);
    // Read up to the 65th '[', once each, and not one character further.
    expect(text.furthest()).toBe(64);
    expect(text.mostReads()).toBe(1);
    expect(text.unread()).toBe(10_000_000 - 65);
  });

  it.each([
    [
      '1 MiB of JSON',
      JSON.stringify(
        Array.from({ length: 20_000 }, (_, i) => ({
          k: `v${i}`,
          n: [i, '"{['],
        })),
      ),
    ],
    [
      'strings of escaped quotes behind long runs of backslashes',
      JSON.stringify(
        Array.from({ length: 200 }, (_, i) =>
          `${'\\'.repeat(500 + i)}"`.repeat(5),
        ),
      ),
    ],
  ])('scans %s in one pass, no character read more than twice', (_, json) => {
    expect(json.length).toBeGreaterThan(512 * 1024);
    const text = reading(json);
    expect(nestsDeeperThan(text.text, 64)).toBe(false);
    // Every character read, none more than twice (counting the backslashes before a quote reads
    // them again): work linear in the length, whatever the machine's load.
    expect(text.unread()).toBe(0);
    expect(text.mostReads()).toBeLessThanOrEqual(2);
  });
});

describe('parseEnvelope: the depth limit', () => {
  const frame = (depth: number) =>
    `{"event":"echo","data":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)},"id":1}`;

  it('accepts 64 levels by default, the envelope being the first', () => {
    expect(parseEnvelope(frame(64)).event).toBe('echo');
  });

  it('refuses a 65th level as BAD_REQUEST, before parsing, without an id', () => {
    const err = invalid(frame(65));
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.message).toBe(
      'JSON nested more than 64 levels deep (the envelope is one)',
    );
    expect(err.id).toBeUndefined();
    expect(err.details).toBeUndefined();
  });

  it('takes the limit as an argument', () => {
    expect(parseEnvelope(frame(3), 3).event).toBe('echo');
    expect(invalid(frame(4), 3).message).toBe(
      'JSON nested more than 3 levels deep (the envelope is one)',
    );
  });

  it('refuses what JSON.parse could only build slowly: 500,000 levels, at once', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const text = reading(frame(500_000));
      expect(invalid(text.text).code).toBe(ErrorCode.BAD_REQUEST);
      // Not parsed, and scanned only up to the 65th level: the 64th '[' after `"data":`.
      expect(parse).not.toHaveBeenCalled();
      expect(text.furthest()).toBe('{"event":"echo","data":'.length + 63);
      expect(text.mostReads()).toBeLessThanOrEqual(2);
      // The spy does see a frame that is parsed.
      expect(parseEnvelope(frame(64)).event).toBe('echo');
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });
});

describe('parseFrame (the client side)', () => {
  it('reads a reply, a push and an error frame', () => {
    expect(parseFrame('{"event":"echo","data":1,"id":"r1"}')).toEqual({
      event: 'echo',
      data: 1,
      id: 'r1',
    });
    expect(parseFrame('{"event":"broadcast","data":{"from":"c-1"}}')).toEqual({
      event: 'broadcast',
      data: { from: 'c-1' },
      id: undefined,
    });
  });

  it('drops an id that is not a string or a number instead of refusing the frame', () => {
    expect(parseFrame('{"event":"x","id":{"a":1}}')).toEqual({
      event: 'x',
      data: undefined,
      id: undefined,
    });
  });

  it('is undefined for plain text, malformed JSON, and JSON that is not a frame', () => {
    for (const text of [
      'server received: hi',
      '{"event":',
      '{"data":1}',
      '{"event":5}',
      '  [1,2]',
    ]) {
      expect(parseFrame(text)).toBeUndefined();
    }
  });
});
