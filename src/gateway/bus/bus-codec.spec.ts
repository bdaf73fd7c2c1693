import { decodeBusMessage, encodeBusMessage } from './bus-codec.js';
import type { BusMessage } from './message-bus.js';

describe('bus codec', () => {
  it('writes a header line, then the frame as it is', () => {
    expect(
      encodeBusMessage({
        origin: 'a1b2c3d4',
        exceptId: 'a1b2c3d4-7',
        to: 'e5f6a7b8-2',
        sentAt: 1700000000123,
        frame: '{"event":"broadcast","data":{"from":"x","data":1}}',
      }),
    ).toBe(
      'g1|a1b2c3d4|a1b2c3d4-7|e5f6a7b8-2|1700000000123\n{"event":"broadcast","data":{"from":"x","data":1}}',
    );
  });

  it('leaves absent fields empty in the header', () => {
    expect(encodeBusMessage({ origin: 'o', frame: 'f' })).toBe('g1|o|||\nf');
  });

  it.each<[string, BusMessage]>([
    [
      'every field',
      {
        origin: 'i1',
        exceptId: 'i1-3',
        to: 'i2-9',
        sentAt: 1_700_000_000_000,
        frame: '{"event":"x"}',
      },
    ],
    ['the origin and frame only', { origin: 'i1', frame: '{"event":"x"}' }],
    ['an exceptId only', { origin: 'i1', exceptId: 'i1-1', frame: '{}' }],
    ['a recipient only', { origin: 'i1', to: 'i2-1', frame: '{}' }],
    ['sentAt 0', { origin: 'i1', sentAt: 0, frame: '{}' }],
    ['a fractional sentAt', { origin: 'i1', sentAt: 12.5, frame: '{}' }],
    ['an empty frame', { origin: 'i1', frame: '' }],
    ['a frame with pipes', { origin: 'i1', frame: '{"data":"a|b||c|"}' }],
    [
      'a frame with newlines',
      { origin: 'i1', frame: 'line one\nline two\n\n' },
    ],
    [
      'a frame that looks like a header',
      { origin: 'i1', frame: 'g1|evil|x|y|1\n{"event":"x"}' },
    ],
    [
      'a frame with non-ASCII text',
      { origin: 'i1', frame: '{"data":"héllo 🎉 世界"}' },
    ],
    [
      'ids with dashes',
      { origin: 'eu-west-1', exceptId: 'eu-west-1-5', frame: '{}' },
    ],
  ])('round-trips a message with %s', (_, message) => {
    expect(decodeBusMessage(encodeBusMessage(message))).toEqual(message);
  });

  it('round-trips a large frame unchanged', () => {
    const frame = JSON.stringify({ data: 'x|\n'.repeat(100_000) });
    const message: BusMessage = { origin: 'i1', exceptId: 'i1-1', frame };
    expect(decodeBusMessage(encodeBusMessage(message))?.frame).toBe(frame);
  });

  it('reads fields it does not have as absent, not as empty strings', () => {
    const decoded = decodeBusMessage('g1|o|||\nf');
    expect(decoded).toEqual({ origin: 'o', frame: 'f' });
    expect(decoded).not.toHaveProperty('exceptId');
    expect(decoded).not.toHaveProperty('to');
    expect(decoded).not.toHaveProperty('sentAt');
  });

  it('drops a sentAt that is not a number, keeping the message', () => {
    expect(decodeBusMessage('g1|o|||soon\nf')).toEqual({
      origin: 'o',
      frame: 'f',
    });
  });

  it.each([
    ['an empty string', ''],
    ['no newline', 'g1|o|||'],
    ['a frame without a header', '{"event":"x"}'],
    ['another version', 'g2|o|||\nf'],
    ['no version', '|o|||\nf'],
    ['a version in another case', 'G1|o|||\nf'],
    ['too few fields', 'g1|o||\nf'],
    ['too many fields', 'g1|o||||\nf'],
    ['an empty origin', 'g1||e|t|1\nf'],
    ['an empty header line', '\nf'],
    ['a header after a blank line', '\ng1|o|||\nf'],
    ['plain JSON of a message', JSON.stringify({ origin: 'o', frame: 'f' })],
  ])('refuses %s', (_, raw) => {
    expect(decodeBusMessage(raw)).toBeUndefined();
  });
});
