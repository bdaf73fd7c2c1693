import type { INestApplication, Provider } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../../src/app.module.js';
import {
  CONFIGURED_BUS,
  type MessageBus,
} from '../../src/gateway/bus/message-bus.js';
import {
  gatewayConfig,
  type GatewayConfig,
} from '../../src/config/gateway.config.js';
import {
  loggingConfig,
  type LoggingConfig,
} from '../../src/config/logging.config.js';
import { HardenedExpressAdapter } from '../../src/http/hardened-express.adapter.js';
import { setupApp } from '../../src/setup-app.js';

/** The token every test app accepts unless a test configures others. */
export const TEST_TOKEN = 'test-token-0123456789';

export interface StartOptions {
  /** Overrides of the gateway's environment-derived settings. */
  gateway?: Partial<Omit<GatewayConfig, 'auth'>> & {
    auth?: Partial<GatewayConfig['auth']>;
  };
  /** Log level; silent unless TEST_LOG_LEVEL asks for lines. */
  logLevel?: LoggingConfig['level'];
  /** Time the HTTP server gives a client to send its request (slowloris); default 10 s. */
  handshakeTimeoutMs?: number;
  /** Extra providers (a test's own gateways) added next to AppModule, as a host app would. */
  providers?: Provider[];
  /**
   * The port to listen on; default 0, a free one. A restart test closes an app and starts
   * another on the port the first one had, so that a client finds it at the same URL.
   */
  port?: number;
  /**
   * A message bus in place of the one the settings choose: an `InMemoryMessageBus` on a hub
   * shared with another app makes two instances in one process without Redis. It stands where
   * the `bus` option of `GatewayModule.forRoot` would, so it is measured like any other bus.
   */
  bus?: MessageBus;
}

export interface RunningApp {
  app: INestApplication;
  port: number;
  /** `ws://127.0.0.1:<port><path>` */
  wsUrl: string;
  /** `http://127.0.0.1:<port>` */
  httpUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the service as shipped (AppModule, pino, the gateway adapter) on a free port of the
 * loopback interface, with the environment's settings replaced by the given ones.
 */
export async function startApp(
  options: StartOptions = {},
): Promise<RunningApp> {
  const gateway: GatewayConfig = {
    path: undefined,
    maxPayloadBytes: undefined,
    maxDepth: undefined,
    shutdownDrainMs: 2_000,
    closeGraceMs: undefined,
    redis: undefined,
    maxRoomsPerConnection: undefined,
    roomAcl: undefined,
    allowedOrigins: undefined,
    trustedProxies: undefined,
    maxConnections: undefined,
    maxConnectionsPerPrincipal: undefined,
    maxConnectionsPerAddress: undefined,
    rateLimit: {},
    maxBufferedBytes: undefined,
    heartbeatIntervalMs: undefined,
    perMessageDeflate: undefined,
    ...options.gateway,
    auth: {
      tokens: [TEST_TOKEN],
      disabled: false,
      generatedToken: undefined,
      jwt: undefined,
      ...options.gateway?.auth,
    },
  };
  const logging: LoggingConfig = {
    level:
      options.logLevel ??
      (process.env.TEST_LOG_LEVEL as LoggingConfig['level']) ??
      'silent',
    format: 'json',
  };
  const builder = Test.createTestingModule({
    imports: [AppModule],
    providers: options.providers ?? [],
  })
    .overrideProvider(gatewayConfig.KEY)
    .useValue(gateway)
    .overrideProvider(loggingConfig.KEY)
    .useValue(logging);
  if (options.bus)
    builder.overrideProvider(CONFIGURED_BUS).useValue(options.bus);
  const moduleRef = await builder.compile();
  const http = new HardenedExpressAdapter({
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
  });
  const app = setupApp(
    moduleRef.createNestApplication<NestExpressApplication>(http, {
      bufferLogs: true,
    }),
  );
  await app.listen(options.port ?? 0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    port,
    wsUrl: `ws://127.0.0.1:${port}${gateway.path ?? '/'}`,
    httpUrl: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
