import { ClientEvents, isLifecycleEvent } from './events.js';

describe('ClientEvents', () => {
  it('knows the lifecycle names, and nothing else', () => {
    for (const name of ['open', 'close', 'state', 'frame', 'tokenExpired']) {
      expect(isLifecycleEvent(name)).toBe(true);
    }
    for (const name of ['broadcast', 'message', 'error', 'game.tick']) {
      expect(isLifecycleEvent(name)).toBe(false);
    }
  });

  it('keeps pushes and lifecycle events apart, whatever the name', () => {
    const events = new ClientEvents();
    const seen: unknown[] = [];
    events.on('state', (info: unknown) => seen.push(['lifecycle', info]));
    events.onPush('state', (data: unknown) => seen.push(['push', data]));
    events.push({ event: 'state', data: 1 });
    events.emit('state', { state: 'open', previous: 'connecting' });
    expect(seen).toEqual([
      ['push', 1],
      ['lifecycle', { state: 'open', previous: 'connecting' }],
    ]);
  });

  it('routes on()/off() of a non-lifecycle name to the pushes, with the frame too', () => {
    const events = new ClientEvents();
    const seen: unknown[] = [];
    const handler = (data: unknown, frame: unknown) => seen.push([data, frame]);
    events.on('game.tick', handler);
    events.push({ event: 'game.tick', data: 1 });
    events.offPush('game.tick', handler);
    events.push({ event: 'game.tick', data: 2 });
    events.onPush('game.tick', handler);
    events.off('game.tick', handler);
    events.push({ event: 'game.tick', data: 3 });
    expect(seen).toEqual([[1, { event: 'game.tick', data: 1 }]]);
  });

  it('does not call a handler added during an emission until the next one', () => {
    const events = new ClientEvents();
    const calls: string[] = [];
    events.onPush('tick', () => {
      calls.push('first');
      events.onPush('tick', () => calls.push('added'));
    });
    events.push({ event: 'tick' });
    expect(calls).toEqual(['first']);
    events.push({ event: 'tick' });
    expect(calls).toEqual(['first', 'first', 'added']);
  });

  it('runs the other handlers when one throws, and rethrows its error in a microtask', async () => {
    const events = new ClientEvents();
    const thrown = new Error('handler bug');
    const reported: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (callback) =>
      original(() => {
        try {
          callback();
        } catch (err) {
          reported.push(err);
        }
      });
    try {
      const after: unknown[] = [];
      events.on('close', () => {
        throw thrown;
      });
      events.on('close', (info: unknown) => after.push(info));
      const info = { code: 1000, reason: '', willReconnect: false };
      events.emit('close', info);
      expect(after).toEqual([info]);
      await Promise.resolve();
      expect(reported).toEqual([thrown]);
    } finally {
      globalThis.queueMicrotask = original;
    }
  });
});
