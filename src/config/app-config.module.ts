import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { gatewayConfig } from './gateway.config.js';
import { loggingConfig } from './logging.config.js';
import { serverConfig } from './server.config.js';

/**
 * The service's configuration: the environment validated at boot (every bad variable
 * named in one error), then exposed as typed namespaces (`ConfigType<typeof gatewayConfig>`).
 */
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      cache: true,
      // Each namespace validates the whole environment when it loads, during the app's
      // creation, so main.ts can report a bad variable as a log line rather than a crash at
      // import time (where ConfigModule's own `validate` option would run).
      load: [serverConfig, gatewayConfig, loggingConfig],
    }),
  ],
})
export class AppConfigModule {}
