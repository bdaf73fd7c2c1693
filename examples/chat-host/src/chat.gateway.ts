import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import {
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Min,
} from 'class-validator';
import {
  ApiEvent,
  CurrentPrincipal,
  Gateway,
  RequireScopes,
  RoomsService,
  type Principal,
  type PublishReceipt,
} from 'nest-ws-gateway';

export class SayDto {
  @Matches(/^[\w-]{1,64}$/)
  room!: string;

  @IsString()
  @Length(1, 500)
  text!: string;
}

/** The reply to `chat.say`: who received it, and its offset in the room's history. */
export class SaidReply implements PublishReceipt {
  @IsString() room!: string;
  @IsInt() @Min(0) recipients!: number;
  @IsInt() @Min(1) instances!: number;
  @IsOptional() @IsInt() @Min(1) offset?: number;
  @IsOptional() @IsString() epoch?: string;
}

/** The reply to `chat.whoami`. */
export class WhoAmIReply {
  @IsString() subject!: string;
  @IsArray() @IsString({ each: true }) scopes!: readonly string[];
}

/**
 * The host's own events, next to the standard ones. Nothing here repeats the gateway's work:
 * auth, validation, error frames and ids come with GatewayModule and `@Gateway()`. `@ApiEvent`
 * describes them in the AsyncAPI document (`GET /asyncapi.json`); the request schemas come
 * from the DTOs by themselves.
 */
@Gateway()
export class ChatGateway {
  constructor(private readonly rooms: RoomsService) {}

  @SubscribeMessage('chat.say')
  @ApiEvent({
    summary:
      'Says something in a room: its members get it as a `message` push, `{"text"}`.',
    reply: SaidReply,
    example: {
      data: { room: 'general', text: 'hello' },
      reply: { room: 'general', recipients: 1, instances: 1, offset: 1 },
    },
  })
  say(
    @MessageBody() { room, text }: SayDto,
    @CurrentPrincipal() who: Principal,
  ): Promise<PublishReceipt> {
    return this.rooms.publish({ room, from: who.subject, data: { text } });
  }

  @RequireScopes('moderate')
  @SubscribeMessage('chat.whoami')
  @ApiEvent({
    summary: 'Who this connection is, and its scopes (needs `moderate`).',
    reply: WhoAmIReply,
  })
  whoami(@CurrentPrincipal() who: Principal): WhoAmIReply {
    return { subject: who.subject, scopes: who.scopes };
  }
}
