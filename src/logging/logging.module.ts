import {
  Module,
  RequestMethod,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { loggingConfig, type LoggingConfig } from '../config/logging.config.js';
import { LogDestination } from './log-destination.js';
import { accessLogOptions, loggerParams } from './logger-options.js';

/**
 * JSON lines through pino (pretty on a TTY), level from `LOG_LEVEL`. `main.ts` makes it Nest's
 * logger, so every `Logger` in the app, the gateway's included, writes through it. HTTP requests
 * get an access line from pino-http on the same root logger; no request-scoped logger context is
 * kept (see `loggerParams`).
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [LogDestination],
      inject: [loggingConfig.KEY, LogDestination],
      useFactory: (config: LoggingConfig, destination: LogDestination) =>
        loggerParams(config, destination.stream),
    }),
  ],
})
export class LoggingModule implements NestModule {
  private accessLog?: HttpLogger;

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply((req: IncomingMessage, res: ServerResponse, next: () => void) => {
        // Built on first use: the root logger exists once nestjs-pino's providers have run.
        this.accessLog ??= pinoHttp({
          ...accessLogOptions(),
          logger: PinoLogger.root,
        });
        this.accessLog(req, res, next);
      })
      .forRoutes({ path: '{*splat}', method: RequestMethod.ALL });
  }
}
