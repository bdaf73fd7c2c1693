import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { loggingConfig, type LoggingConfig } from '../config/logging.config.js';
import { loggerOptions } from './logger-options.js';

/**
 * JSON lines through pino (pretty on a TTY), level from `LOG_LEVEL`. `main.ts` makes it Nest's
 * logger, so every `Logger` in the app, the gateway's included, writes through it.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [loggingConfig.KEY],
      useFactory: (config: LoggingConfig) => loggerOptions(config),
    }),
  ],
})
export class LoggingModule {}
