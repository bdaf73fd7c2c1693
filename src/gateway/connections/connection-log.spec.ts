import { GATEWAY_DEFAULTS } from '../gateway.options.js';
import type { Logger } from '@nestjs/common';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { TrafficStats } from './traffic-stats.js';
import { ErrorJournal } from './error-journal.js';
import { ClientConnection } from './connection.js';
import { ConnectionLog } from './connection-log.js';
import { WriteCoalescer } from './write-coalescer.js';

function connection(): ClientConnection {
  const c = new ClientConnection(
    'inst-1',
    {} as WebSocket,
    { subject: 'alice', scopes: [] },
    '10.0.0.7',
    {
      traffic: new TrafficStats(),
      errors: new ErrorJournal(),
      writes: new WriteCoalescer(),
      maxBufferedBytes: 1024,
      rateLimit: GATEWAY_DEFAULTS.rateLimit,
      closeGraceMs: 1000,
    },
  );
  c.messagesIn = 3;
  c.messagesOut = 2;
  return c;
}

const expectedClose = {
  connection: 'inst-1',
  principal: 'alice',
  remote: '10.0.0.7',
  code: 1000,
  reason: 'bye',
  messagesIn: 3,
  messagesOut: 2,
};

describe('ConnectionLog', () => {
  it('writes through Nest’s logger when the application gives no logger of its own', () => {
    const calls: [object, string][] = [];
    const nest = {
      log: (fields: object, msg: string) => calls.push([fields, msg]),
    } as unknown as Logger;
    const log = new ConnectionLog('Gateway', nest);
    const c = connection();
    log.opened(c, '10.0.0.1');
    log.closed(c, 1000, 'bye');
    expect(calls[0]).toEqual([
      {
        connection: 'inst-1',
        principal: 'alice',
        remote: '10.0.0.7',
        proxy: '10.0.0.1',
      },
      'connection opened',
    ]);
    expect(calls[1][0]).toMatchObject(expectedClose);
    expect(typeof (calls[1][0] as { durationMs: unknown }).durationMs).toBe(
      'number',
    );
    expect(calls[1][1]).toBe('connection closed');
  });

  // pino itself, as the service hands it over: the library only knows the shape.
  it('writes to the given pino logger, with the context, and not through Nest’s', () => {
    const lines: Record<string, unknown>[] = [];
    const root = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const nest = {
      log: () => {
        throw new Error('the Nest logger must not be used');
      },
    } as unknown as Logger;
    const log = new ConnectionLog('Gateway', nest, root);
    const c = connection();
    log.opened(c, undefined);
    log.closed(c, 1000, 'bye');
    expect(lines[0]).toMatchObject({
      level: 30,
      context: 'Gateway',
      connection: 'inst-1',
      principal: 'alice',
      remote: '10.0.0.7',
      msg: 'connection opened',
    });
    expect(lines[0]).not.toHaveProperty('proxy');
    expect(lines[1]).toMatchObject({
      ...expectedClose,
      context: 'Gateway',
      msg: 'connection closed',
    });
  });
});
