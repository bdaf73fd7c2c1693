import { captureErrorLogs } from '../../../test/support/capture-error-logs.js';
import type { ConnectionInfo } from './connection.js';
import { GatewayEvents } from './gateway-events.js';

const connection: ConnectionInfo = {
  id: 'i1-1',
  principal: { subject: 'alice', scopes: [] },
  remoteAddress: '127.0.0.1',
  openedAt: 0,
};

describe('GatewayEvents', () => {
  const logs = captureErrorLogs();

  it('calls every listener of an event with its arguments, in order of registration', () => {
    const events = new GatewayEvents();
    const calls: unknown[][] = [];
    events.on('joined', (c, room) => calls.push(['first', c, room]));
    events.on('joined', (c, room) => calls.push(['second', c, room]));
    events.emit('joined', connection, 'lobby');
    expect(calls).toEqual([
      ['first', connection, 'lobby'],
      ['second', connection, 'lobby'],
    ]);
    expect(calls[0][1]).toBe(connection);
  });

  it('passes each event’s own arguments', () => {
    const events = new GatewayEvents();
    const calls: unknown[][] = [];
    events.on('connected', (...args) => calls.push(['connected', ...args]));
    events.on('disconnected', (...args) =>
      calls.push(['disconnected', ...args]),
    );
    events.on('left', (...args) => calls.push(['left', ...args]));
    events.emit('connected', connection);
    events.emit('disconnected', connection, { code: 1001, reason: 'bye' });
    events.emit('left', connection, 'games');
    expect(calls).toEqual([
      ['connected', connection],
      ['disconnected', connection, { code: 1001, reason: 'bye' }],
      ['left', connection, 'games'],
    ]);
  });

  it('keeps events apart', () => {
    const events = new GatewayEvents();
    const joined = vi.fn();
    events.on('joined', joined);
    events.emit('left', connection, 'lobby');
    events.emit('connected', connection);
    expect(joined).not.toHaveBeenCalled();
  });

  it('is fine with an event nobody listens to', () => {
    const events = new GatewayEvents();
    expect(() => events.emit('connected', connection)).not.toThrow();
  });

  it('keeps instances apart', () => {
    const one = new GatewayEvents();
    const two = new GatewayEvents();
    const listener = vi.fn();
    one.on('connected', listener);
    two.emit('connected', connection);
    expect(listener).not.toHaveBeenCalled();
  });

  it('runs listeners synchronously, before emit returns', () => {
    const events = new GatewayEvents();
    let ran = false;
    events.on('connected', () => {
      ran = true;
    });
    events.emit('connected', connection);
    expect(ran).toBe(true);
  });

  it('logs a listener that throws, and still runs the others', () => {
    const events = new GatewayEvents();
    const before = vi.fn();
    const after = vi.fn();
    events.on('disconnected', before);
    events.on('disconnected', () => {
      throw new Error('hook broke');
    });
    events.on('disconnected', after);

    expect(() =>
      events.emit('disconnected', connection, { code: 1000, reason: '' }),
    ).not.toThrow();

    expect(before).toHaveBeenCalledTimes(1);
    expect(after).toHaveBeenCalledTimes(1);
    expect(logs()).toHaveLength(1);
    const [fields, text] = logs()[0] as [{ err: Error; event: string }, string];
    expect(fields.event).toBe('disconnected');
    expect(fields.err.message).toBe('hook broke');
    expect(text).toBe('lifecycle listener failed');
  });

  it('logs each failure of a listener that keeps throwing', () => {
    const events = new GatewayEvents();
    events.on('connected', () => {
      throw new Error('again');
    });
    events.emit('connected', connection);
    events.emit('connected', connection);
    expect(logs()).toHaveLength(2);
  });

  it('removes a listener with the function on returns', () => {
    const events = new GatewayEvents();
    const kept = vi.fn();
    const removed = vi.fn();
    events.on('connected', kept);
    const off = events.on('connected', removed);
    events.emit('connected', connection);
    off();
    events.emit('connected', connection);
    expect(removed).toHaveBeenCalledTimes(1);
    expect(kept).toHaveBeenCalledTimes(2);
  });

  it('lets a listener be removed twice harmlessly', () => {
    const events = new GatewayEvents();
    const other = vi.fn();
    const off = events.on('connected', vi.fn());
    events.on('connected', other);
    off();
    off();
    events.emit('connected', connection);
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('removes only the listener of that event', () => {
    const events = new GatewayEvents();
    const listener = vi.fn();
    const off = events.on('joined', listener);
    events.on('left', listener);
    off();
    events.emit('joined', connection, 'a');
    events.emit('left', connection, 'a');
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith(connection, 'a');
  });

  it('can register a listener again after removing it', () => {
    const events = new GatewayEvents();
    const listener = vi.fn();
    events.on('connected', listener)();
    events.on('connected', listener);
    events.emit('connected', connection);
    expect(listener).toHaveBeenCalledTimes(1);
  });
});
