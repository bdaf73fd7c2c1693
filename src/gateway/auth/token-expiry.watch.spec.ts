import { GatewayEvents } from '../connections/gateway-events.js';
import { CloseCode } from '../../protocol/close-codes.js';
import type { ConnectionInfo } from '../connections/connection.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import type { Principal } from './principal.js';
import { MAX_TIMER_DELAY_MS, TokenExpiryWatch } from './token-expiry.watch.js';

const NOW = 1_700_000_000_000;
const DAY = 24 * 60 * 60 * 1000;

describe('TokenExpiryWatch', () => {
  let events: GatewayEvents;
  let delivery: RecordingDelivery;
  let watch: TokenExpiryWatch;

  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
    events = new GatewayEvents();
    delivery = new RecordingDelivery();
    watch = new TokenExpiryWatch(events, delivery);
    watch.onModuleInit();
  });

  afterEach(() => {
    watch.onModuleDestroy();
    vi.useRealTimers();
  });

  /** A connection as the adapter announces it, with the given expiry. */
  function connect(id: string, expiresAt?: number): ConnectionInfo {
    const info = delivery.connect(id);
    const principal: Principal = {
      subject: `user-${id}`,
      scopes: [],
      expiresAt,
    };
    const connection = { ...info, principal };
    events.emit('connected', connection);
    return connection;
  }

  function disconnect(connection: ConnectionInfo): void {
    events.emit('disconnected', connection, { code: 1000, reason: '' });
    delivery.disconnect(connection.id);
  }

  it('closes a connection with 4401 when its token expires, not before', () => {
    connect('a', NOW + 1_500);
    vi.advanceTimersByTime(1_499);
    expect(delivery.closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivery.closed).toEqual([
      { id: 'a', code: CloseCode.TOKEN_EXPIRED, reason: 'token expired' },
    ]);
    expect(CloseCode.TOKEN_EXPIRED).toBe(4401);
    expect(watch.size).toBe(0);
  });

  it('closes each connection at its own expiry', () => {
    connect('early', NOW + 1_000);
    connect('late', NOW + 5_000);
    connect('never');
    vi.advanceTimersByTime(1_000);
    expect(delivery.closed.map((c) => c.id)).toEqual(['early']);
    vi.advanceTimersByTime(4_000);
    expect(delivery.closed.map((c) => c.id)).toEqual(['early', 'late']);
    vi.advanceTimersByTime(365 * DAY);
    expect(delivery.closed.map((c) => c.id)).toEqual(['early', 'late']);
  });

  it('arms no timer for a principal without expiry (static tokens)', () => {
    connect('static');
    expect(watch.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('closes at once a connection whose token expired as it connected', () => {
    connect('stale', NOW);
    expect(delivery.closed).toEqual([
      { id: 'stale', code: 4401, reason: 'token expired' },
    ]);
    expect(watch.size).toBe(0);
  });

  it('forgets a connection that closes first: no close, no timer left', () => {
    const c = connect('a', NOW + 10_000);
    expect(watch.size).toBe(1);
    disconnect(c);
    expect(watch.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(20_000);
    expect(delivery.closed).toEqual([]);
  });

  it('keeps one timer per open connection, however many come and go', () => {
    for (let i = 0; i < 1_000; i++) disconnect(connect(`c${i}`, NOW + 60_000));
    const open = [connect('x', NOW + 60_000), connect('y', NOW + 60_000)];
    expect(watch.size).toBe(2);
    expect(vi.getTimerCount()).toBe(2);
    open.forEach(disconnect);
    expect(watch.size).toBe(0);
  });

  it('re-arms past the longest timer delay instead of firing at once', () => {
    const expiresAt = NOW + 30 * DAY; // beyond 2^31-1 ms (about 24.8 days)
    connect('far', expiresAt);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(delivery.closed).toEqual([]);
    expect(watch.size).toBe(1);
    vi.advanceTimersByTime(expiresAt - NOW - MAX_TIMER_DELAY_MS - 1);
    expect(delivery.closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivery.closed.map((c) => c.code)).toEqual([4401]);
  });

  it('does not close early when the wall clock lags the timer', () => {
    connect('a', NOW + 1_000);
    // The timer fires on time, but Date.now() says 10 ms remain (a clock step back).
    vi.advanceTimersByTime(990);
    vi.setSystemTime(NOW + 980);
    vi.advanceTimersByTime(10);
    expect(delivery.closed).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(delivery.closed.map((c) => c.id)).toEqual(['a']);
  });

  it('does not keep the process alive: its timers are unref()ed', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    connect('a', NOW + 1_000);
    const timer = spy.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
  });

  it('stops listening and clears its timers when the module is destroyed', () => {
    connect('a', NOW + 1_000);
    watch.onModuleDestroy();
    expect(vi.getTimerCount()).toBe(0);
    connect('b', NOW + 1_000);
    vi.advanceTimersByTime(5_000);
    expect(delivery.closed).toEqual([]);
  });
});
