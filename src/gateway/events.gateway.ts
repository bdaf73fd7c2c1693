import { ApiEvent, ApiPush } from './contract/api-event.decorator.js';
import * as Contract from './standard-contract.js';
import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import type {
  BroadcastReceipt,
  HistoryReply,
  JoinReply,
  PresenceReply,
  PublishReceipt,
  ResumeReply,
} from '../protocol/frames.js';
import { BroadcastService } from './broadcast/broadcast.service.js';
import { EchoService } from './echo/echo.service.js';
import type { ConnectionInfo } from './connections/connection.js';
import { CurrentConnection } from './dispatch/connection.decorators.js';
import { Gateway } from './dispatch/gateway.decorator.js';
import { Inject } from '@nestjs/common';
import { GATEWAY_OPTIONS } from './gateway-options.token.js';
import type { ResolvedGatewayOptions } from './gateway.options.js';
import { RecoveryService } from './rooms/recovery.service.js';
import { PresenceService } from './presence/presence.service.js';
import { RoomAccess } from './rooms/room-access.js';
import {
  HistoryDto,
  JoinDto,
  PresenceDto,
  PublishDto,
  ResumeDto,
  RoomDto,
} from './rooms/room.dto.js';
import { RoomsService } from './rooms/rooms.service.js';

/**
 * The standard events of protocol v1: echo, broadcast, join, leave, publish, and the history
 * ones, resume and history. Each handler takes the (validated) payload and hands it to a
 * service; `join`, `publish`, `presence` and `history` ask the room policy first. Replies carry the request's id, and errors become error frames, by the adapter and
 * filter.
 */
@Gateway()
@ApiPush({
  event: 'broadcast',
  payload: Contract.BroadcastPush,
  summary: "Another client's broadcast (never the sender's own).",
})
@ApiPush({
  event: 'message',
  payload: Contract.RoomMessagePush,
  summary:
    'A message of a room this connection is in, with its offset when the room keeps history.',
})
@ApiPush({
  event: 'presence',
  payload: Contract.PRESENCE_PUSH_SCHEMA,
  summary:
    'Who joined and left a room this connection joined with presence, once per tick; a count for a room too large to list.',
})
export class EventsGateway {
  constructor(
    private readonly echoService: EchoService,
    private readonly broadcastService: BroadcastService,
    private readonly roomsService: RoomsService,
    private readonly roomAccess: RoomAccess,
    private readonly recovery: RecoveryService,
    private readonly presenceService: PresenceService,
    @Inject(GATEWAY_OPTIONS) private readonly options: ResolvedGatewayOptions,
  ) {}

  @SubscribeMessage('echo')
  @ApiEvent({
    summary: 'Sends the data back as it came.',
    example: { data: 'hello', reply: 'hello' },
  })
  echo(@MessageBody() data: unknown): unknown {
    return this.echoService.echo(data);
  }

  @SubscribeMessage('broadcast')
  @ApiEvent({
    summary: 'Pushes the data to every other client, on every instance.',
    reply: Contract.BroadcastReceipt,
    example: {
      data: { text: 'hi all' },
      reply: { recipients: 3, instances: 2 },
    },
  })
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

  @SubscribeMessage('join')
  @ApiEvent({
    summary:
      "Joins a room; with `since`, first replays what was missed; with `presence`, answers the room's members and subscribes to their changes.",
    reply: Contract.JoinReply,
    example: {
      data: { room: 'lobby' },
      reply: { room: 'lobby', offset: 12, epoch: 'k2x9a' },
    },
  })
  join(
    @MessageBody() { room, since, presence }: JoinDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<JoinReply> {
    return this.recovery.join(sender, { room, since, presence });
  }

  @SubscribeMessage('presence')
  @ApiEvent({
    summary: "A room's members over every instance, or only their count.",
    reply: Contract.PresenceReply,
  })
  async presence(
    @MessageBody() { room, countOnly }: PresenceDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<PresenceReply> {
    // With room permissions the `presence` grant decides; without, only members may ask.
    await this.roomAccess.check(sender.principal, room, 'presence');
    return this.presenceService.ask(
      sender,
      room,
      countOnly === true,
      this.roomAccess.unrestricted,
    );
  }

  @SubscribeMessage('resume')
  @ApiEvent({
    summary:
      'Joins again every room of an earlier connection in one round trip, each from its position.',
    reply: Contract.ResumeReply,
  })
  async resume(
    @MessageBody() { rooms }: ResumeDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<ResumeReply> {
    return {
      rooms: await this.recovery.resume(sender, rooms, {
        maxRooms: this.options.maxRoomsPerConnection,
        maxBufferedBytes: this.options.maxBufferedBytes,
      }),
    };
  }

  @SubscribeMessage('history')
  @ApiEvent({
    summary: "A page of a room's kept messages, after `since` or the newest.",
    reply: Contract.HistoryReply,
  })
  history(
    @MessageBody() { room, since, limit }: HistoryDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<HistoryReply> {
    return this.recovery.page(sender.principal, room, since, limit);
  }

  @SubscribeMessage('leave')
  @ApiEvent({ summary: 'Leaves a room.', reply: Contract.LeaveReply })
  leave(
    @MessageBody() { room }: RoomDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): RoomDto {
    this.roomsService.leave(sender.id, room);
    return { room };
  }

  @SubscribeMessage('publish')
  @ApiEvent({
    summary:
      'Pushes the data to every member of a room but the sender, on every instance; the reply has its offset when the room keeps history.',
    reply: Contract.PublishReceipt,
    example: {
      data: { room: 'lobby', data: { text: 'hi' } },
      reply: {
        room: 'lobby',
        recipients: 2,
        instances: 1,
        offset: 13,
        epoch: 'k2x9a',
      },
    },
  })
  async publish(
    @MessageBody() { room, data }: PublishDto,
    @CurrentConnection() sender: ConnectionInfo,
  ): Promise<PublishReceipt> {
    await this.roomAccess.check(sender.principal, room, 'publish');
    return this.roomsService.publish({
      room,
      from: sender.id,
      data,
      exceptId: sender.id,
    });
  }
}
