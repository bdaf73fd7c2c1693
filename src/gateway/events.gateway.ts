import { UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { WsAuthGuard } from './auth/ws-auth.guard.js';
import {
  BroadcastService,
  type BroadcastReceipt,
} from './broadcast/broadcast.service.js';
import { EchoService } from './echo/echo.service.js';
import type { ConnectionInfo } from './protocol/connection.js';
import { CurrentConnection } from './protocol/connection.decorators.js';
import { GatewayExceptionFilter } from './protocol/gateway-exception.filter.js';
import { GatewayValidationPipe } from './protocol/gateway-validation.pipe.js';

/**
 * The standard events of protocol v1. Each handler takes the payload and hands it to a service;
 * replies carry the request's id, and errors become error frames, by the adapter and filter.
 */
@WebSocketGateway()
@UseGuards(WsAuthGuard)
@UsePipes(GatewayValidationPipe)
@UseFilters(GatewayExceptionFilter)
export class EventsGateway {
  constructor(
    private readonly echoService: EchoService,
    private readonly broadcastService: BroadcastService,
  ) {}

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return this.echoService.echo(data);
  }

  @SubscribeMessage('broadcast')
  broadcast(
    @MessageBody() data: unknown,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<BroadcastReceipt> {
    return this.broadcastService.broadcast({
      from: sender.id,
      data,
      exceptId: sender.id,
    });
  }
}
