import { Body, Controller, Post } from '@nestjs/common';
import { BroadcastService, type BroadcastReceipt } from 'nest-ws-gateway';

/** `POST /announcements {"text": ...}` reaches every connected socket. */
@Controller('announcements')
export class AnnouncementsController {
  constructor(private readonly broadcasts: BroadcastService) {}

  @Post()
  announce(@Body() body: { text: string }): Promise<BroadcastReceipt> {
    return this.broadcasts.broadcast({
      from: 'announcements',
      data: body.text,
    });
  }
}
