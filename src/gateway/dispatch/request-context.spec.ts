import type { ClientConnection } from '../connections/connection.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import {
  errorFrame,
  plainTextReply,
  replyFrame,
  type ErrorPayload,
} from '../../protocol/frames.js';
import { RequestContext } from './request-context.js';

/** Our own ClientConnection reduced to what RequestContext uses, recorded. */
class RecordingConnection {
  readonly frames: string[] = [];
  answeredCount = 0;
  sendReply(frame: string): boolean {
    this.frames.push(frame);
    return true;
  }
  sendError(payload: ErrorPayload, id: string | number | undefined): boolean {
    return this.sendReply(errorFrame(payload, id));
  }
  answered(): void {
    this.answeredCount++;
  }
}

function setup(event: string, id: string | number | undefined) {
  const connection = new RecordingConnection();
  const context = new RequestContext(
    connection as unknown as ClientConnection,
    event,
    id,
  );
  return { connection, context };
}

const BAD: ErrorPayload = { code: ErrorCode.BAD_REQUEST, message: 'nope' };

describe('frames', () => {
  it('replyFrame carries event, data and id, in that order', () => {
    expect(replyFrame('echo', { a: 1 }, 'r1')).toBe(
      '{"event":"echo","data":{"a":1},"id":"r1"}',
    );
    expect(replyFrame('echo', 'x', 0)).toBe(
      '{"event":"echo","data":"x","id":0}',
    );
  });

  it('replyFrame leaves the id key out when there is no id', () => {
    expect(replyFrame('echo', null, undefined)).toBe(
      '{"event":"echo","data":null}',
    );
  });

  it('errorFrame wraps the payload in an error event', () => {
    expect(
      errorFrame(
        {
          code: ErrorCode.BAD_REQUEST,
          message: 'validation failed',
          details: [{ field: 'room', message: 'must be a string' }],
        },
        7,
      ),
    ).toBe(
      '{"event":"error","data":{"code":"BAD_REQUEST","message":"validation failed","details":[{"field":"room","message":"must be a string"}]},"id":7}',
    );
    expect(errorFrame(BAD, undefined)).toBe(
      '{"event":"error","data":{"code":"BAD_REQUEST","message":"nope"}}',
    );
  });

  it('plainTextReply answers as the tutorial server does', () => {
    expect(plainTextReply('Hello world!')).toBe(
      'server received: Hello world!',
    );
    expect(plainTextReply('')).toBe('server received: ');
  });
});

describe('RequestContext', () => {
  it('exposes the connection, event and id it was made for', () => {
    const { connection, context } = setup('join', 'r1');
    expect(context.connection).toBe(connection);
    expect(context.event).toBe('join');
    expect(context.id).toBe('r1');
    expect(context.isSettled).toBe(false);
  });

  it('replies with the event, the result and the id', () => {
    const { connection, context } = setup('echo', 'r1');
    context.reply({ hello: ['world'] });
    expect(connection.frames.map((f) => JSON.parse(f) as unknown)).toEqual([
      { event: 'echo', data: { hello: ['world'] }, id: 'r1' },
    ]);
    expect(context.isSettled).toBe(true);
  });

  it('replies without an id key when the request had none', () => {
    const { connection, context } = setup('echo', undefined);
    context.reply('hi');
    expect(connection.frames).toEqual(['{"event":"echo","data":"hi"}']);
  });

  it('replies once only', () => {
    const { connection, context } = setup('echo', 1);
    context.reply('first');
    context.reply('second');
    expect(connection.frames).toEqual([
      '{"event":"echo","data":"first","id":1}',
    ]);
    expect(connection.answeredCount).toBe(1);
  });

  it('ignores a failure after the reply', () => {
    const { connection, context } = setup('echo', 1);
    context.reply('done');
    context.fail(BAD);
    expect(connection.frames).toHaveLength(1);
    expect(JSON.parse(connection.frames[0])).toMatchObject({ event: 'echo' });
  });

  it('ignores a reply after a failure, and a second failure', () => {
    const { connection, context } = setup('echo', 'r9');
    context.fail(BAD);
    context.reply('late');
    context.fail({ code: ErrorCode.INTERNAL, message: 'again' });
    expect(connection.frames).toEqual([
      '{"event":"error","data":{"code":"BAD_REQUEST","message":"nope"},"id":"r9"}',
    ]);
    expect(context.isSettled).toBe(true);
    expect(connection.answeredCount).toBe(1);
  });

  it('sends an error frame without an id key when the request had none', () => {
    const { connection, context } = setup('echo', undefined);
    context.fail(BAD);
    expect(connection.frames).toEqual([
      '{"event":"error","data":{"code":"BAD_REQUEST","message":"nope"}}',
    ]);
  });

  it('sends nothing for an undefined result without an id, yet settles', () => {
    const { connection, context } = setup('leave', undefined);
    context.reply(undefined);
    expect(connection.frames).toEqual([]);
    expect(context.isSettled).toBe(true);
    context.fail(BAD);
    expect(connection.frames).toEqual([]);
    // Settled without a frame still releases a close that waits for it.
    expect(connection.answeredCount).toBe(1);
  });

  it('acknowledges an undefined result with data null when there is an id', () => {
    const { connection, context } = setup('leave', 'r2');
    context.reply(undefined);
    expect(connection.frames).toEqual([
      '{"event":"leave","data":null,"id":"r2"}',
    ]);
  });

  it.each([
    ['null', null],
    ['false', false],
    ['0', 0],
    ['an empty string', ''],
  ])('sends a falsy result (%s) as is, even without an id', (_, data) => {
    const { connection, context } = setup('echo', undefined);
    context.reply(data);
    expect(connection.frames.map((f) => JSON.parse(f) as unknown)).toEqual([
      { event: 'echo', data },
    ]);
  });

  describe('with a result JSON cannot carry', () => {
    it('throws from reply (BigInt) and stays unsettled, so fail() still answers', () => {
      const { connection, context } = setup('echo', 'r3');
      expect(() => context.reply({ n: 10n })).toThrow(TypeError);
      expect(context.isSettled).toBe(false);
      expect(connection.frames).toEqual([]);
      context.fail({ code: ErrorCode.INTERNAL, message: 'internal error' });
      expect(connection.frames).toEqual([
        '{"event":"error","data":{"code":"INTERNAL","message":"internal error"},"id":"r3"}',
      ]);
      expect(context.isSettled).toBe(true);
    });

    it('throws from reply (a cycle) and a later good reply is still sent', () => {
      const { connection, context } = setup('echo', undefined);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(() => context.reply(cyclic)).toThrow(TypeError);
      context.reply('recovered');
      expect(connection.frames).toEqual([
        '{"event":"echo","data":"recovered"}',
      ]);
    });
  });
});
