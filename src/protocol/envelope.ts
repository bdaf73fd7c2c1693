import type { ErrorDetail, Frame, RequestId } from './frames.js';
import { GatewayError } from './gateway-error.js';

/** How deep JSON may nest by default, the envelope counting as one level. */
export const DEFAULT_MAX_DEPTH = 64;

/** A client's request: `{"event": string, "data"?: any, "id"?: string | number}`. */
export interface Envelope {
  event: string;
  data: unknown;
  id?: RequestId;
}

/** The longest event name and string id accepted; longer ones are refused, not truncated. */
export const MAX_EVENT_LENGTH = 128;
export const MAX_ID_LENGTH = 128;

/**
 * A text frame that does not open with `{` is plain text, answered as the python-websockets
 * tutorial's server answers it. Skipping blanks by char code avoids a `trimStart()` copy of
 * every frame.
 */
export function isEnvelopeText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // space, \t, \n, \r
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    return c === 123; // '{'
  }
  return false;
}

function readId(value: unknown, details: ErrorDetail[]): RequestId | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH) return value;
  details.push({
    field: 'id',
    message: `must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`,
  });
  return undefined;
}

/**
 * Thrown for an envelope that parsed as JSON but is not a valid request. It keeps the id when
 * the id itself was valid, so the client can still match the error to its request.
 */
export class InvalidEnvelopeError extends GatewayError {
  constructor(
    message: string,
    details: readonly ErrorDetail[] | undefined,
    readonly id?: RequestId,
  ) {
    super('BAD_REQUEST', message, details);
  }
}

const QUOTE = 34; // "
const BACKSLASH = 92; // \
const OPEN_BRACE = 123; // {
const CLOSE_BRACE = 125; // }
const OPEN_BRACKET = 91; // [
const CLOSE_BRACKET = 93; // ]

/**
 * Whether JSON text nests arrays and objects more than `maxDepth` levels deep (`[]` is one
 * level). One pass over the characters, stopping at the first level too many; brackets inside
 * strings do not count. It does not validate: malformed text is left for `JSON.parse` to refuse.
 *
 * Checked before parsing because depth is what makes later steps fail or crawl: `JSON.parse`
 * slows down on deeply nested text, and the recursive steps after it (serializing a reply,
 * class-transformer) overflow the stack near a thousand levels.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  const length = text.length;
  // Every level opens with a character of its own.
  if (length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string with indexOf, much faster than a loop over long strings: it ends at the
      // next quote preceded by an even run of backslashes (an odd one escapes it).
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false;
        let b = i - 1;
        while (text.charCodeAt(b) === BACKSLASH) b--;
        if ((i - 1 - b) % 2 === 0) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses the text of a frame that {@link isEnvelopeText} accepted. Throws
 * {@link InvalidEnvelopeError} (`BAD_REQUEST`) for JSON nested more than `maxDepth` levels
 * (the envelope is the first; such a frame is not parsed, so its id is not known), malformed
 * JSON or a malformed envelope.
 */
export function parseEnvelope(
  text: string,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): Envelope {
  if (nestsDeeperThan(text, maxDepth)) {
    throw new InvalidEnvelopeError(
      `JSON nested more than ${maxDepth} levels deep (the envelope is one)`,
      undefined,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidEnvelopeError(
      `malformed JSON: ${(err as Error).message}`,
      undefined,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEnvelopeError(
      'an envelope must be a JSON object',
      undefined,
    );
  }
  const raw = value as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const id = readId(raw.id, details);
  const event = raw.event;
  if (typeof event !== 'string' || event.length === 0) {
    details.push({ field: 'event', message: 'must be a non-empty string' });
  } else if (event.length > MAX_EVENT_LENGTH) {
    details.push({
      field: 'event',
      message: `must be at most ${MAX_EVENT_LENGTH} characters`,
    });
  }
  if (details.length > 0) {
    throw new InvalidEnvelopeError('invalid envelope', details, id);
  }
  return { event: event as string, data: raw.data, id };
}

/**
 * The frame a text parses to, as a client reads the server's frames: undefined for plain text
 * or JSON that is not a frame. Lenient where {@link parseEnvelope} is strict: a client takes what
 * the server sends, and a bad id is dropped rather than refused.
 */
export function parseFrame(text: string): Frame | undefined {
  if (!isEnvelopeText(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  const frame = value as Record<string, unknown>;
  if (typeof frame.event !== 'string') return undefined;
  const id = frame.id;
  return {
    event: frame.event,
    data: frame.data,
    id: typeof id === 'string' || typeof id === 'number' ? id : undefined,
  };
}
