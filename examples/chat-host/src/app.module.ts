import { Module } from '@nestjs/common';
import { GatewayModule } from 'nest-ws-gateway';
import { AnnouncementsController } from './announcements.controller.js';
import { ApiKeyStore, ApiKeyVerifier } from './api-key.verifier.js';
import { ChatGateway } from './chat.gateway.js';

@Module({ providers: [ApiKeyStore], exports: [ApiKeyStore] })
class KeysModule {}

@Module({
  imports: [
    GatewayModule.forRootAsync({
      imports: [KeysModule],
      inject: [ApiKeyStore],
      useFactory: (store: ApiKeyStore) => ({
        path: '/ws',
        auth: { verifier: new ApiKeyVerifier(store) },
        // The web console at /console: one option. Off while CHAT_CONSOLE_TOKENS is unset.
        console: { tokens: process.env.CHAT_CONSOLE_TOKENS },
        // The protocol, the host's events with the standard ones, at GET /asyncapi.json.
        asyncapi: true,
      }),
    }),
  ],
  controllers: [AnnouncementsController],
  providers: [ChatGateway],
})
export class AppModule {}
