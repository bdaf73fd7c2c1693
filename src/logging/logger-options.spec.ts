import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  accessLogOptions,
  bounded,
  MAX_LOGGED_TEXT,
  pinoOptions,
} from './logger-options.js';

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

describe('accessLogOptions', () => {
  const serialize = accessLogOptions().serializers!.req as (
    req: unknown,
  ) => Record<string, unknown>;

  it('logs the path without its query, and bounds what the client chose', () => {
    const line = serialize({
      method: 'GET',
      url: `/${'p'.repeat(5_000)}?token=secret`,
      headers: { 'user-agent': 'u'.repeat(15_000), authorization: 'Bearer x' },
    });
    expect(line.path).toBe(`/${'p'.repeat(MAX_LOGGED_TEXT - 1)}…`);
    expect(line.userAgent).toBe(`${'u'.repeat(MAX_LOGGED_TEXT)}…`);
    expect(JSON.stringify(line)).not.toMatch(/secret|Bearer/);
    expect(bounded('short')).toBe('short');
    expect(bounded(undefined)).toBeUndefined();
  });
});
