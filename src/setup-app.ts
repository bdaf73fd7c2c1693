import type { INestApplication } from '@nestjs/common';
import { Logger, PinoLogger } from 'nestjs-pino';
import { GatewayAdapter } from './gateway/gateway.adapter.js';
import { ConnectionLines } from './logging/connection-lines.js';

/**
 * What the service adds to a Nest application before it listens: pino as Nest's logger, and the
 * gateway's WebSocket adapter on the HTTP server, writing its connection lines to pino's root
 * logger's stream directly (ConnectionLines). Shared by `main.ts` and the e2e tests, so the tests run the service as it is
 * shipped.
 */
export function setupApp<T extends INestApplication>(app: T): T {
  app.useLogger(app.get(Logger));
  // Set by now: nestjs-pino's providers made the root logger when the application was created.
  app.useWebSocketAdapter(
    new GatewayAdapter(app, {
      connectionLogger: new ConnectionLines(PinoLogger.root),
    }),
  );
  return app;
}
