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
      // The config is GatewayOptions already; `auth.generatedToken` rides along unread.
      useFactory: (config: GatewayConfig): GatewayOptions => config,
    }),
    HealthModule,
  ],
})
export class AppModule {}
