import { applyDecorators, UseFilters, UsePipes } from '@nestjs/common';
import { WebSocketGateway, type GatewayMetadata } from '@nestjs/websockets';
import { GatewayExceptionFilter } from './gateway-exception.filter.js';
import { GatewayValidationPipe } from './gateway-validation.pipe.js';

/**
 * Declares a gateway class served by `GatewayModule`: Nest's `@WebSocketGateway(options)` with
 * the gateway's validation pipe ({@link GatewayValidationPipe}) and exception filter
 * ({@link GatewayExceptionFilter}), so that DTO payloads are validated and every error a
 * handler, guard or pipe throws becomes an error frame carrying the request's id.
 *
 * Use it in place of `@WebSocketGateway()` on every gateway class of the application:
 *
 * ```ts
 * @Gateway()                      // or @Gateway({ path: '/admin' })
 * export class ChatGateway {
 *   @SubscribeMessage('chat.say')
 *   say(@MessageBody() dto: SayDto) { ... }
 * }
 * ```
 *
 * - Authentication is not part of it: `GatewayModule` registers `WsAuthGuard` as a global
 *   guard (`APP_GUARD`), which Nest applies to gateways too, before the class's and handler's
 *   own guards. Listing it here as well would run it twice per message.
 * - The pipe and filter are here because they cannot be global: Nest never applies global
 *   exception filters to gateways, and a global pipe would also run on every HTTP controller's
 *   parameters, where it cannot tell that it is not handling a message.
 * - A class declared with plain `@WebSocketGateway()` would get Nest's own exception handling,
 *   which answers a failed request with an `exception` message and lets the request itself look
 *   like a success (`data: null`). `GatewayAdapter` therefore refuses to start, naming the class,
 *   when a gateway lacks this filter or pipe (on the class, or on each of its handlers).
 * - A handler's own `@UseFilters()` take precedence over the gateway's filter, and its own
 *   `@UsePipes()` run after the gateway's validation. On the class, write them above
 *   `@Gateway()`: class decorators apply bottom-up, and a filter declared below it would come
 *   after the gateway's catch-all filter, which would answer first.
 */
export function Gateway(options?: GatewayMetadata): ClassDecorator {
  return applyDecorators(
    WebSocketGateway(options),
    UsePipes(GatewayValidationPipe),
    UseFilters(GatewayExceptionFilter),
  );
}
