import type { INestApplication } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { GatewayAdapter } from './gateway/gateway.adapter.js';

/**
 * What the service adds to a Nest application before it listens: pino as Nest's logger, and the
 * gateway's WebSocket adapter on the HTTP server. Shared by `main.ts` and the e2e tests, so the
 * tests run the service as it is shipped.
 */
export function setupApp<T extends INestApplication>(app: T): T {
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new GatewayAdapter(app));
  return app;
}
