import {
  Logger,
  Module,
  type OnApplicationBootstrap,
  Inject,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AnonymousVerifier } from './auth/anonymous.verifier.js';
import { HandshakeAuthenticator } from './auth/handshake-authenticator.js';
import { StaticTokenVerifier } from './auth/static-token.verifier.js';
import { TOKEN_VERIFIER } from './auth/token-verifier.js';
import { WsAuthGuard } from './auth/ws-auth.guard.js';
import { BroadcastService } from './broadcast/broadcast.service.js';
import { InMemoryMessageBus } from './broadcast/in-memory-message-bus.js';
import { RedisMessageBus } from './broadcast/redis-message-bus.js';
import { LOCAL_DELIVERY } from './broadcast/local-delivery.js';
import { MESSAGE_BUS } from './broadcast/message-bus.js';
import { EchoService } from './echo/echo.service.js';
import { EventsGateway } from './events.gateway.js';
import {
  ConfigurableGatewayModule,
  GATEWAY_MODULE_OPTIONS,
  GATEWAY_OPTIONS,
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './gateway.options.js';
import { INSTANCE_ID, newInstanceId } from './instance-id.js';
import { GatewayEvents } from './lifecycle/gateway-events.js';
import { ConnectionRegistry } from './protocol/connection-registry.js';
import { RoomsService } from './rooms/rooms.service.js';
import { GatewayEnhancer } from './protocol/gateway-enhancer.js';

/**
 * The WebSocket gateway as a Nest module: `GatewayModule.forRoot(options)` or
 * `GatewayModule.forRootAsync({ imports, inject, useFactory })`. Pair it with
 * `app.useWebSocketAdapter(new GatewayAdapter(app))` in `main.ts`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: GATEWAY_OPTIONS,
      useFactory: (options: GatewayOptions) => resolveGatewayOptions(options),
      inject: [GATEWAY_MODULE_OPTIONS],
    },
    { provide: INSTANCE_ID, useFactory: newInstanceId },
    {
      provide: TOKEN_VERIFIER,
      useFactory: (options: ResolvedGatewayOptions) =>
        options.auth.disabled
          ? new AnonymousVerifier()
          : new StaticTokenVerifier(options.auth.tokens),
      inject: [GATEWAY_OPTIONS],
    },
    {
      provide: MESSAGE_BUS,
      useFactory: (options: ResolvedGatewayOptions, instanceId: string) =>
        options.redis
          ? new RedisMessageBus({ ...options.redis, instanceId })
          : new InMemoryMessageBus(),
      inject: [GATEWAY_OPTIONS, INSTANCE_ID],
    },
    ConnectionRegistry,
    { provide: LOCAL_DELIVERY, useExisting: ConnectionRegistry },
    HandshakeAuthenticator,
    WsAuthGuard,
    GatewayEvents,
    EchoService,
    BroadcastService,
    RoomsService,
    GatewayEnhancer,
    EventsGateway,
  ],
  exports: [
    GATEWAY_OPTIONS,
    INSTANCE_ID,
    TOKEN_VERIFIER,
    MESSAGE_BUS,
    LOCAL_DELIVERY,
    ConnectionRegistry,
    HandshakeAuthenticator,
    GatewayEvents,
    EchoService,
    BroadcastService,
    RoomsService,
  ],
})
export class GatewayModule
  extends ConfigurableGatewayModule
  implements OnApplicationBootstrap
{
  private readonly logger = new Logger('Gateway');

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    const { auth } = this.options;
    if (auth.disabled) {
      this.logger.warn(
        'authentication is DISABLED: every handshake is accepted without a token',
      );
    }
  }
}
