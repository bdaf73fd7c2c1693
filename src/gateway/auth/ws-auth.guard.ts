import {
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { connectionOf } from '../connections/connection.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import type { Principal } from './principal.js';
import { REQUIRED_SCOPES } from './require-scopes.decorator.js';

const NONE: readonly string[] = Object.freeze([]);

/**
 * Guards every message handler: the connection must carry the principal its handshake
 * established, that principal's credential must not have expired since, and it must hold every
 * scope the handler requires with `@RequireScopes()` (else `FORBIDDEN`, naming the missing ones).
 *
 * `GatewayModule` registers it as a global guard (`APP_GUARD`): Nest runs global guards for
 * gateways as well as for HTTP controllers, so it covers every gateway class before the class's
 * own guards, and lets anything that is not a WebSocket message through.
 */
@Injectable()
export class WsAuthGuard implements CanActivate {
  // Required scopes by handler, then by class (a handler may be inherited by several classes):
  // read from metadata once, not on every message.
  private readonly required = new WeakMap<
    object,
    WeakMap<object, readonly string[]>
  >();

  /** The last handler and class asked about, and their scopes: most messages are one event's. */
  private lastHandler?: object;
  private lastClass?: object;
  private lastScopes: readonly string[] = NONE;

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'ws') return true;
    const connection = connectionOf(context.switchToWs().getClient());
    if (!connection) throw GatewayError.unauthorized();
    const { principal } = connection;
    if (
      principal.expiresAt !== undefined &&
      principal.expiresAt <= Date.now()
    ) {
      throw GatewayError.unauthorized('token expired');
    }
    const required = this.requiredScopes(context);
    if (required.length > 0) this.checkScopes(principal, required);
    return true;
  }

  private checkScopes(principal: Principal, required: readonly string[]) {
    const missing = required.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) {
      throw GatewayError.forbidden(
        `missing scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      );
    }
  }

  private requiredScopes(context: ExecutionContext): readonly string[] {
    const handler = context.getHandler();
    const type = context.getClass();
    if (handler === this.lastHandler && type === this.lastClass)
      return this.lastScopes;
    let byClass = this.required.get(handler);
    let scopes = byClass?.get(type);
    if (scopes === undefined) {
      const merged = this.reflector.getAllAndMerge<string[]>(REQUIRED_SCOPES, [
        type,
        handler,
      ]);
      scopes = merged.length > 0 ? Object.freeze([...new Set(merged)]) : NONE;
      if (!byClass) this.required.set(handler, (byClass = new WeakMap()));
      byClass.set(type, scopes);
    }
    this.lastHandler = handler;
    this.lastClass = type;
    this.lastScopes = scopes;
    return scopes;
  }
}
