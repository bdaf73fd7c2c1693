import type { ExecutionContext } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../protocol/connection-registry.js';
import { TrafficStats } from '../telemetry/traffic-stats.js';
import { resolveGatewayOptions } from '../gateway.options.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { GatewayError } from '../protocol/gateway-error.js';
import type { Principal } from './principal.js';
import { WsAuthGuard } from './ws-auth.guard.js';

/** The part of an ExecutionContext the guard reads: its type and the ws client. */
function contextFor(client: unknown, type = 'ws'): ExecutionContext {
  return {
    getType: () => type,
    switchToWs: () => ({
      getClient: () => client,
      getData: () => undefined,
      getPattern: () => 'echo',
    }),
  } as unknown as ExecutionContext;
}

/** The guard never touches the socket: a plain object stands in as the registry's key. */
const fakeSocket = () => ({}) as unknown as WebSocket;

function thrownBy(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected the guard to throw');
}

describe('WsAuthGuard', () => {
  const guard = new WsAuthGuard();
  let registry: ConnectionRegistry;

  beforeEach(() => {
    registry = new ConnectionRegistry(
      'test-instance',
      new TrafficStats(),
      resolveGatewayOptions(),
    );
  });

  const register = (principal: Principal) => {
    const socket = fakeSocket();
    registry.register(socket, principal, '127.0.0.1');
    return socket;
  };

  it('lets a registered connection without expiry through', () => {
    const socket = register({ subject: 'alice', scopes: [] });
    expect(guard.canActivate(contextFor(socket))).toBe(true);
  });

  it('lets a registered connection whose token has not expired through', () => {
    const socket = register({
      subject: 'alice',
      scopes: [],
      expiresAt: Date.now() + 60_000,
    });
    expect(guard.canActivate(contextFor(socket))).toBe(true);
  });

  it.each([
    ['a socket the gateway never accepted', () => fakeSocket()],
    ['no client at all', () => undefined],
    ['a null client', () => null],
    ['a string client', () => 'client'],
  ])('refuses %s with UNAUTHORIZED', (_, client) => {
    const err = thrownBy(() => guard.canActivate(contextFor(client())));
    expect(err.code).toBe(ErrorCode.UNAUTHORIZED);
    expect(err.message).toBe('not authenticated');
  });

  it('refuses a connection whose token has expired', () => {
    const socket = register({
      subject: 'alice',
      scopes: [],
      expiresAt: Date.now() - 1,
    });
    const err = thrownBy(() => guard.canActivate(contextFor(socket)));
    expect(err.code).toBe(ErrorCode.UNAUTHORIZED);
    expect(err.message).toBe('token expired');
  });

  it('refuses a token at the very millisecond it expires', () => {
    const now = 1_700_000_000_000;
    vi.useFakeTimers({ now, toFake: ['Date'] });
    try {
      const socket = register({ subject: 'alice', scopes: [], expiresAt: now });
      expect(() => guard.canActivate(contextFor(socket))).toThrow(
        'token expired',
      );
      vi.setSystemTime(now - 1);
      expect(guard.canActivate(contextFor(socket))).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('starts refusing a connection once its token expires', () => {
    const now = 1_700_000_000_000;
    vi.useFakeTimers({ now, toFake: ['Date'] });
    try {
      const socket = register({
        subject: 'alice',
        scopes: [],
        expiresAt: now + 1000,
      });
      expect(guard.canActivate(contextFor(socket))).toBe(true);
      vi.setSystemTime(now + 1000);
      expect(() => guard.canActivate(contextFor(socket))).toThrow(
        'token expired',
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('tells connections apart: one expired does not affect another', () => {
    const expired = register({
      subject: 'old',
      scopes: [],
      expiresAt: Date.now() - 1,
    });
    const valid = register({ subject: 'new', scopes: [] });
    expect(() => guard.canActivate(contextFor(expired))).toThrow(GatewayError);
    expect(guard.canActivate(contextFor(valid))).toBe(true);
  });

  it.each(['http', 'rpc'])('does not guard a %s context', (type) => {
    expect(guard.canActivate(contextFor(undefined, type))).toBe(true);
  });
});
