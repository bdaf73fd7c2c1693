import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { WebSocket } from 'ws';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { ErrorJournal } from '../connections/error-journal.js';
import { resolveGatewayOptions } from '../gateway.options.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import type { Principal } from './principal.js';
import { RequireScopes } from './require-scopes.decorator.js';
import { WsAuthGuard } from './ws-auth.guard.js';

/** A gateway as a host writes one: handlers with and without required scopes. */
class Handlers {
  open(this: void) {}

  @RequireScopes('admin')
  admin(this: void) {}

  @RequireScopes('admin', 'audit')
  adminAndAudit(this: void) {}
}

/** Every handler of this class needs `ops`, on top of its own. */
@RequireScopes('ops')
class OpsHandlers {
  status(this: void) {}

  @RequireScopes('admin', 'ops')
  restart(this: void) {}
}

type Handler = (...args: unknown[]) => unknown;

/** The part of an ExecutionContext the guard reads: its type, the ws client, the handler. */
function contextFor(
  client: unknown,
  type = 'ws',
  handler: Handler = Handlers.prototype.open,
  klass: object = Handlers,
): ExecutionContext {
  return {
    getType: () => type,
    getHandler: () => handler,
    getClass: () => klass,
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
  const guard = new WsAuthGuard(new Reflector());
  let registry: ConnectionRegistry;

  beforeEach(() => {
    registry = new ConnectionRegistry(
      'test-instance',
      new TrafficStats(),
      resolveGatewayOptions(),
      new ErrorJournal(),
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

  describe('required scopes', () => {
    const call = (
      scopes: string[],
      handler: Handler,
      klass: object = Handlers,
      extra: Partial<Principal> = {},
    ) => {
      const socket = register({ subject: 'alice', scopes, ...extra });
      return () => guard.canActivate(contextFor(socket, 'ws', handler, klass));
    };

    it('lets any principal use a handler that requires nothing', () => {
      expect(call([], Handlers.prototype.open)()).toBe(true);
    });

    it('lets a principal holding the scope through', () => {
      expect(call(['admin'], Handlers.prototype.admin)()).toBe(true);
      expect(call(['chat', 'admin'], Handlers.prototype.admin)()).toBe(true);
    });

    it('refuses a principal without the scope: FORBIDDEN naming it', () => {
      const err = thrownBy(call(['chat'], Handlers.prototype.admin));
      expect(err.code).toBe(ErrorCode.FORBIDDEN);
      expect(err.message).toBe('missing scope: admin');
    });

    it('refuses a principal with no scopes at all (a static token)', () => {
      const err = thrownBy(call([], Handlers.prototype.admin));
      expect(err.code).toBe(ErrorCode.FORBIDDEN);
    });

    it('needs every listed scope and names each one missing', () => {
      expect(call(['admin', 'audit'], Handlers.prototype.adminAndAudit)()).toBe(
        true,
      );
      expect(
        thrownBy(call(['admin'], Handlers.prototype.adminAndAudit)).message,
      ).toBe('missing scope: audit');
      expect(thrownBy(call([], Handlers.prototype.adminAndAudit)).message).toBe(
        'missing scopes: admin, audit',
      );
    });

    it('matches scopes exactly: no prefixes, no other case', () => {
      expect(
        thrownBy(
          call(['admi', 'ADMIN', 'admin:read'], Handlers.prototype.admin),
        ).code,
      ).toBe(ErrorCode.FORBIDDEN);
    });

    it('adds the class scopes to the handler scopes', () => {
      const { status, restart } = OpsHandlers.prototype;
      expect(call(['ops'], status, OpsHandlers)()).toBe(true);
      expect(thrownBy(call([], status, OpsHandlers)).message).toBe(
        'missing scope: ops',
      );
      expect(call(['ops', 'admin'], restart, OpsHandlers)()).toBe(true);
      // "ops" is on both the class and the method: named once.
      expect(thrownBy(call([], restart, OpsHandlers)).message).toBe(
        'missing scopes: ops, admin',
      );
    });

    it('checks expiry before scopes: an expired admin is UNAUTHORIZED', () => {
      const err = thrownBy(
        call(['admin'], Handlers.prototype.admin, Handlers, {
          expiresAt: Date.now() - 1,
        }),
      );
      expect(err.code).toBe(ErrorCode.UNAUTHORIZED);
    });

    it('reads the metadata once per handler, not once per message', () => {
      const reflector = new Reflector();
      const spy = vi.spyOn(reflector, 'getAllAndMerge');
      const own = new WsAuthGuard(reflector);
      const socket = register({ subject: 'alice', scopes: ['admin'] });
      const admin = contextFor(socket, 'ws', Handlers.prototype.admin);
      for (let i = 0; i < 5; i++) expect(own.canActivate(admin)).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
      // The same method seen through another class is looked up for that class.
      const asOps = contextFor(
        socket,
        'ws',
        Handlers.prototype.admin,
        OpsHandlers,
      );
      expect(() => own.canActivate(asOps)).toThrow('missing scope: ops');
      expect(spy).toHaveBeenCalledTimes(2);
    });
  });
});
