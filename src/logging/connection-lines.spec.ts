import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConnectionLines } from './connection-lines.js';
import { pinoOptions } from './logger-options.js';

/** The service's pino logger over a stream that keeps each line as written. */
function logger(level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const root = pino(pinoOptions({ level, format: 'json' }), {
    write: (line: string) => lines.push(line),
  });
  return { root, lines };
}

/** The line without its time, which differs between two lines written one after the other. */
const timeless = (line: string) => line.replace(/,"time":\d+/, ',"time":0');

const OPENED = {
  connection: 'a1b2c3d4-1f',
  principal: 'alice',
  remote: '10.0.0.7',
};

const CASES: Array<[string, object, string]> = [
  ['an opened line', OPENED, 'connection opened'],
  [
    'an opened line through a proxy',
    { ...OPENED, proxy: '10.0.0.1' },
    'connection opened',
  ],
  [
    'a closed line',
    {
      ...OPENED,
      code: 1000,
      reason: '',
      durationMs: 1234,
      messagesIn: 3,
      messagesOut: 2,
    },
    'connection closed',
  ],
  [
    'text that needs escaping, and a field left undefined',
    {
      connection: 'x',
      principal: 'émile "the" \\ 😀 世界 \u2028',
      remote: '::ffff:127.0.0.1',
      proxy: undefined,
      code: 4000,
      reason: 'tab\there\nnew line \u0001',
      durationMs: 0,
      messagesIn: Number.NaN,
      messagesOut: 0,
    },
    'connection closed',
  ],
];

describe('ConnectionLines', () => {
  it.each(CASES)('writes %s as pino writes it', (_, fields, msg) => {
    const { root, lines } = logger();
    root.child({ context: 'Gateway' }).info(fields, msg);
    new ConnectionLines(root).child({ context: 'Gateway' }).info(fields, msg);
    expect(lines).toHaveLength(2);
    expect(timeless(lines[1]!)).toBe(timeless(lines[0]!));
    expect(JSON.parse(lines[1]!)).toMatchObject({
      level: 30,
      context: 'Gateway',
      msg,
    });
  });

  it('writes nothing below the logger’s level, and follows a change of level', () => {
    const { root, lines } = logger('warn');
    const sink = new ConnectionLines(root).child({ context: 'Gateway' });
    sink.info(OPENED, 'connection opened');
    expect(lines).toEqual([]);
    root.level = 'info';
    sink.info(OPENED, 'connection opened');
    expect(lines).toHaveLength(1);
  });
});
