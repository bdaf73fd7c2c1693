import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { loggingConfig, type LoggingConfig } from '../config/logging.config.js';
import { LogDestination } from './log-destination.js';
import { loggerOptions } from './logger-options.js';

/**
 * JSON lines through pino (pretty on a TTY), level from `LOG_LEVEL`. `main.ts` makes it Nest's
 * logger, so every `Logger` in the app, the gateway's included, writes through it.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [LogDestination],
      inject: [loggingConfig.KEY, LogDestination],
      useFactory: (config: LoggingConfig, destination: LogDestination) =>
        loggerOptions(config, destination.stream),
    }),
  ],
})
export class LoggingModule {}
