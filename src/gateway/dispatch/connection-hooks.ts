import type { DiscoveryService } from '@nestjs/core';
import { GATEWAY_METADATA } from '@nestjs/websockets/constants.js';

/**
 * Whether any `@WebSocketGateway()` class of the application implements `OnGatewayConnection`
 * or `OnGatewayDisconnect`, which Nest calls from its per-connection binding: when none does,
 * that binding can wait until a client sends its first message.
 */
export function gatewaysHaveConnectionHooks(
  discovery: DiscoveryService,
): boolean {
  return discovery.getProviders().some(({ metatype }) => {
    if (!metatype || !Reflect.getMetadata(GATEWAY_METADATA, metatype))
      return false;
    const proto = (metatype as { prototype?: Record<string, unknown> })
      .prototype;
    return (
      typeof proto?.handleConnection === 'function' ||
      typeof proto?.handleDisconnect === 'function'
    );
  });
}
