import { Injectable, Logger, type Type } from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  PIPES_METADATA,
} from '@nestjs/common/constants.js';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { GATEWAY_METADATA } from '@nestjs/websockets/constants.js';
import { WsAuthGuard } from '../auth/ws-auth.guard.js';
import { GatewayExceptionFilter } from './gateway-exception.filter.js';
import { GatewayValidationPipe } from './gateway-validation.pipe.js';

type Enhancer = object | Type<unknown>;

/**
 * Gives every `@WebSocketGateway()` class of the application, the host's own included, the
 * gateway's guard, validation pipe and exception filter. Nest does not apply global guards,
 * pipes or filters to gateways, so a host would otherwise have to remember three decorators
 * per class and would get Nest's `exception` frames when it forgot.
 *
 * It runs when the provider is built, after module scanning and before gateways are connected
 * to the server, which is when Nest reads this metadata. Classes that already name one of these
 * enhancers keep their own declaration.
 */
@Injectable()
export class GatewayEnhancer {
  private static readonly guard = new WsAuthGuard(new Reflector());
  private static readonly pipe = new GatewayValidationPipe();
  private static readonly filter = new GatewayExceptionFilter();
  private readonly logger = new Logger(GatewayEnhancer.name);

  constructor(discovery: DiscoveryService) {
    for (const wrapper of discovery.getProviders()) {
      const type = wrapper.metatype as Type<unknown> | undefined;
      if (!type || !Reflect.getMetadata(GATEWAY_METADATA, type)) continue;
      const added = [
        // First in the class list: filters are matched last-declared first, so the host's own
        // filters still win, and ours catches the rest.
        this.prepend(
          EXCEPTION_FILTERS_METADATA,
          type,
          GatewayEnhancer.filter,
          GatewayExceptionFilter,
        ),
        // First in the list: authentication is checked before anything else runs.
        this.prepend(GUARDS_METADATA, type, GatewayEnhancer.guard, WsAuthGuard),
        this.prepend(
          PIPES_METADATA,
          type,
          GatewayEnhancer.pipe,
          GatewayValidationPipe,
        ),
      ].filter(Boolean).length;
      if (added > 0)
        this.logger.debug(`${type.name}: gateway enhancers applied`);
    }
  }

  private prepend(
    key: string,
    type: Type<unknown>,
    instance: object,
    kind: Type<unknown>,
  ): boolean {
    const current: Enhancer[] = Reflect.getMetadata(key, type) ?? [];
    const present = current.some((e) => e === kind || e instanceof kind);
    if (present) return false;
    Reflect.defineMetadata(key, [instance, ...current], type);
    return true;
  }
}
