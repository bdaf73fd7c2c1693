// First: a V8 flag that must be set before the rest of the service allocates anything.
import './heap-tuning.js';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';
import { gatewayConfig, type GatewayConfig } from './config/gateway.config.js';
import { serverConfig, type ServerConfig } from './config/server.config.js';
import {
  assertValidEnvironment,
  ConfigValidationError,
} from './config/validate-environment.js';
import { HardenedExpressAdapter } from './http/hardened-express.adapter.js';
import { setupApp } from './setup-app.js';

const logger = new Logger('Bootstrap');

async function bootstrap(): Promise<void> {
  assertValidEnvironment();
  // The HTTP server's timeouts must be set when it is created, before the app's config exists.
  const http = new HardenedExpressAdapter(serverConfig());
  // abortOnError: false: a failure reaches the catch below (logged, exit 1), not process.abort().
  const app = setupApp(
    await NestFactory.create(AppModule, http, {
      bufferLogs: true,
      abortOnError: false,
    }),
  );
  const server = app.get<ServerConfig>(serverConfig.KEY);
  const gateway = app.get<GatewayConfig>(gatewayConfig.KEY);
  await app.listen(server.port, server.host);

  const { port } = app.getHttpServer().address() as AddressInfo;
  const host =
    server.host === '0.0.0.0' || server.host === '::'
      ? 'localhost'
      : server.host;
  const url = `ws://${host}:${port}${gateway.path ?? '/'}`;
  logger.log(
    { port, host: server.host },
    `gateway listening: ${url} (HTTP on the same port)`,
  );
  if (gateway.auth.generatedToken) {
    // The one place a token is logged: generated for this run, and useless without it.
    const token = gateway.auth.generatedToken;
    logger.warn(
      `no AUTH_TOKENS set: this run accepts the generated token ${token}\n` +
        `  try it: npx wscat -c "${url}" -H "Authorization: Bearer ${token}"\n` +
        `  then type: {"event":"echo","data":"hello","id":1}`,
    );
  }

  // Nest's own shutdown hooks re-raise the signal, so the process would end with 143, not 0.
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.log(`${signal} received: draining connections`);
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

try {
  await bootstrap();
} catch (err) {
  if (err instanceof ConfigValidationError) {
    logger.fatal(err.message);
  } else {
    logger.fatal({ err }, 'the gateway could not start');
  }
  process.exit(1);
}
