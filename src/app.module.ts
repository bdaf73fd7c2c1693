import { Module } from '@nestjs/common';
import { AppConfigModule } from './config/app-config.module.js';
import { gatewayConfig, type GatewayConfig } from './config/gateway.config.js';
import { GatewayModule } from './gateway/gateway.module.js';
import type { GatewayOptions } from './gateway/gateway.options.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';

/**
 * The service: the gateway library configured from the environment. It uses GatewayModule
 * exactly as a host application would, so the two cannot drift apart.
 */
@Module({
  imports: [
    AppConfigModule,
    LoggingModule,
    GatewayModule.forRootAsync({
      inject: [gatewayConfig.KEY],
      useFactory: (config: GatewayConfig): GatewayOptions => ({
        path: config.path,
        auth: {
          tokens: config.auth.tokens,
          disabled: config.auth.disabled,
          jwt: config.auth.jwt,
        },
        allowedOrigins: config.allowedOrigins,
        trustedProxies: config.trustedProxies,
        maxConnections: config.maxConnections,
        maxConnectionsPerPrincipal: config.maxConnectionsPerPrincipal,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        maxPayloadBytes: config.maxPayloadBytes,
        maxDepth: config.maxDepth,
        rateLimit: config.rateLimit,
        maxBufferedBytes: config.maxBufferedBytes,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        perMessageDeflate: config.perMessageDeflate,
        shutdownDrainMs: config.shutdownDrainMs,
        closeGraceMs: config.closeGraceMs,
        redis: config.redis,
        maxRoomsPerConnection: config.maxRoomsPerConnection,
        roomAcl: config.roomAcl,
      }),
    }),
    HealthModule,
  ],
})
export class AppModule {}
