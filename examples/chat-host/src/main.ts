import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GatewayAdapter } from 'nest-ws-gateway';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule);
// The one line a host adds: the gateway's adapter on the app's HTTP server.
app.useWebSocketAdapter(new GatewayAdapter(app));
app.enableShutdownHooks();
await app.listen(
  Number(process.env.PORT ?? 3000),
  process.env.HOST ?? '127.0.0.1',
);
const { port } = app.getHttpServer().address() as AddressInfo;
new Logger('ChatHost').log(
  `chat host listening on ${port}: ws://127.0.0.1:${port}/ws`,
);
