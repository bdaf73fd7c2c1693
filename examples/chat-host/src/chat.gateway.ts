import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { IsString, Length, Matches } from 'class-validator';
import {
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

/**
 * The host's own events, next to the standard ones. Nothing here repeats the gateway's work:
 * auth, validation, error frames and ids come with GatewayModule and `@Gateway()`.
 */
@Gateway()
export class ChatGateway {
  constructor(private readonly rooms: RoomsService) {}

  @SubscribeMessage('chat.say')
  say(
    @MessageBody() { room, text }: SayDto,
    @CurrentPrincipal() who: Principal,
  ): Promise<PublishReceipt> {
    return this.rooms.publish({ room, from: who.subject, data: { text } });
  }

  @RequireScopes('moderate')
  @SubscribeMessage('chat.whoami')
  whoami(@CurrentPrincipal() who: Principal): {
    subject: string;
    scopes: readonly string[];
  } {
    return { subject: who.subject, scopes: who.scopes };
  }
}
