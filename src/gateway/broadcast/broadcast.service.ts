import {
  Inject,
  Injectable,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { INSTANCE_ID } from '../instance-id.js';
import { GatewayError } from '../protocol/gateway-error.js';
import { LOCAL_DELIVERY, type LocalDelivery } from './local-delivery.js';
import {
  MESSAGE_BUS,
  type BusMessage,
  type MessageBus,
} from './message-bus.js';

/** The bus channel that carries broadcasts to every instance. */
export const BROADCAST_CHANNEL = 'broadcast';

/** A message for every client. */
export interface Broadcast {
  /** Who sends it: the sending connection's id, or a name server code chooses. */
  from: string;
  /** Any JSON value; an absent one is sent as `null`. */
  data: unknown;
  /** A connection that must not receive it, normally the sender's own. */
  exceptId?: string;
}

/** What is known of a broadcast's delivery when it is acknowledged. */
export interface BroadcastReceipt {
  /** Clients of this instance it was sent to. */
  recipients: number;
  /** Instances it reached, this one included. */
  instances: number;
}

/**
 * Sends a message to every connected client, on every instance. The push is serialized once,
 * here; each instance sends that same string to its sockets.
 */
@Injectable()
export class BroadcastService implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(LOCAL_DELIVERY) private readonly local: LocalDelivery,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.bus.subscribe(BROADCAST_CHANNEL, this.deliver);
  }

  async onModuleDestroy(): Promise<void> {
    await this.bus.unsubscribe(BROADCAST_CHANNEL);
  }

  /**
   * Pushes `{"event":"broadcast","data":{"from":<from>,"data":<data>}}` to every client but
   * `exceptId`, on every instance. Rejects with `UNAVAILABLE` when the bus cannot take the
   * message (the local clients have received it by then).
   */
  async broadcast({
    from,
    data,
    exceptId,
  }: Broadcast): Promise<BroadcastReceipt> {
    const frame = JSON.stringify({
      event: 'broadcast',
      data: { from, data: data === undefined ? null : data },
    });
    const recipients = this.local.sendToAll(frame, exceptId);
    let remote: number;
    try {
      remote = await this.bus.publish(BROADCAST_CHANNEL, {
        origin: this.instanceId,
        exceptId,
        frame,
      });
    } catch (err) {
      throw GatewayError.unavailable(
        `broadcast reached ${recipients} local client(s) but not the other instances: ${(err as Error).message}`,
      );
    }
    return { recipients, instances: 1 + remote };
  }

  private readonly deliver = (message: BusMessage): void => {
    if (message.origin === this.instanceId) return;
    this.local.sendToAll(message.frame, message.exceptId);
  };
}
