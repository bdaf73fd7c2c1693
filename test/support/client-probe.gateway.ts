import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
} from '@nestjs/websockets';
import { Gateway } from '../../src/gateway/dispatch/gateway.decorator.js';
import type { WebSocket } from 'ws';

/**
 * A host application's gateway for the client's tests: events that make the server do what the
 * standard ones never do on request (close with a given code, answer late or never, push a host
 * event), so the client's reactions can be checked against the real gateway.
 */
@Gateway()
export class ClientProbeGateway {
  /** Closes the sender's connection with `{code, reason}` (1013, 1000, 4401, ...). */
  @SubscribeMessage('client-probe.close')
  close(
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() body: { code: number; reason?: string },
  ): void {
    socket.close(body.code, body.reason ?? '');
  }

  /** Never answers: a request in flight for as long as the connection lives. */
  @SubscribeMessage('client-probe.never')
  never(): Promise<never> {
    return new Promise(() => undefined);
  }

  /** Answers `late` after `{ms}`. */
  @SubscribeMessage('client-probe.slow')
  async slow(@MessageBody() body: { ms: number }): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, body.ms));
    return 'late';
  }

  /** Pushes `{event, data}` to the sender, as a host's own server code would. */
  @SubscribeMessage('client-probe.push')
  push(
    @ConnectedSocket() socket: WebSocket,
    @MessageBody() body: { event: string; data: unknown },
  ): string {
    socket.send(JSON.stringify({ event: body.event, data: body.data }));
    return 'pushed';
  }
}
