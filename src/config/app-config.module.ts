import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { gatewayConfig } from './gateway.config.js';
import { loggingConfig } from './logging.config.js';
import { serverConfig } from './server.config.js';
import { validateEnvironment } from './validate-environment.js';

/**
 * The service's configuration: the environment validated once at boot (every bad variable
 * named in one error), then exposed as typed namespaces (`ConfigType<typeof gatewayConfig>`).
 */
@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      cache: true,
      load: [serverConfig, gatewayConfig, loggingConfig],
      validate: (env) => {
        validateEnvironment(env);
        return env;
      },
    }),
  ],
})
export class AppConfigModule {}
