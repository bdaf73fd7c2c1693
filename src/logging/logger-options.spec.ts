import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { pinoOptions } from './logger-options.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(pinoOptions({ level: 'info', format: 'json' }), {
    write: (line: string) => lines.push(JSON.parse(line)),
  });
  return { logger, lines };
}

describe('pinoOptions redaction', () => {
  it.each([
    ['a top-level token', { token: 'sekrit' }],
    ['a top-level authorization', { authorization: 'Bearer sekrit' }],
    [
      'request headers',
      { headers: { authorization: 'Bearer sekrit', cookie: 'sid=sekrit' } },
    ],
    ['a query', { query: { token: 'sekrit' } }],
    [
      'a serialized request',
      {
        req: {
          headers: { authorization: 'Bearer sekrit', cookie: 'sekrit' },
          query: { token: 'sekrit' },
        },
      },
    ],
  ])('censors %s', (_, fields) => {
    const { logger, lines } = capture();
    logger.info(fields, 'line');
    expect(JSON.stringify(lines[0])).not.toContain('sekrit');
    expect(JSON.stringify(lines[0])).toContain('[redacted]');
  });

  it('leaves the gateway’s own connection fields as they are', () => {
    const { logger, lines } = capture();
    const fields = {
      connection: 'c-1',
      principal: 'token-1',
      remote: '127.0.0.1',
      code: 1000,
      reason: '',
    };
    logger.info(fields, 'connection closed');
    expect(lines[0]).toMatchObject({ ...fields, msg: 'connection closed' });
  });
});
