import type { BroadcastReceipt } from '../../protocol/frames.js';
import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { INSTANCE_ID } from '../instance-id.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { BROADCAST_CHANNEL, instanceChannel } from '../bus/channels.js';
import { FanOut } from '../bus/fan-out.js';
import {
  LOCAL_DELIVERY,
  type LocalDelivery,
} from '../connections/local-delivery.js';
import {
  MESSAGE_BUS,
  type BusMessage,
  type MessageBus,
} from '../bus/message-bus.js';

/** The instance a connection id belongs to (ids are `<instance>-<sequence>`). */
function instanceOf(connectionId: string): string | undefined {
  const dash = connectionId.lastIndexOf('-');
  return dash > 0 ? connectionId.slice(0, dash) : undefined;
}

/** A message for every client. */
export interface Broadcast {
  /** Who sends it: the sending connection's id, or a name server code chooses. */
  from: string;
  /** Any JSON value; an absent one is sent as `null`. */
  data: unknown;
  /** A connection that must not receive it, normally the sender's own. */
  exceptId?: string;
}

/**
 * Sends messages to every connected client, or to one, on whatever instance it is connected to.
 * A push is serialized once, here; each instance sends that same string to its sockets.
 */
@Injectable()
export class BroadcastService implements OnModuleInit, OnApplicationShutdown {
  private readonly fanOut: FanOut;

  constructor(
    @Inject(LOCAL_DELIVERY) private readonly local: LocalDelivery,
    @Inject(MESSAGE_BUS) bus: MessageBus,
    @Inject(INSTANCE_ID) private readonly instanceId: string,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {
    this.fanOut = new FanOut(bus, instanceId, metrics);
  }

  async onModuleInit(): Promise<void> {
    await this.fanOut.subscribe(BROADCAST_CHANNEL, this.deliverToAll);
    await this.fanOut.subscribe(
      instanceChannel(this.instanceId),
      this.deliverToOne,
    );
  }

  /** After the connections have drained: until then, broadcasts from other instances still arrive. */
  async onApplicationShutdown(): Promise<void> {
    await this.fanOut.unsubscribe(BROADCAST_CHANNEL);
    await this.fanOut.unsubscribe(instanceChannel(this.instanceId));
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
    const recipients = this.local.sendToAll(frame, exceptId, 'broadcast');
    this.metrics?.fannedOut('broadcast', recipients);
    const remote = await this.fanOut.publish(
      BROADCAST_CHANNEL,
      { exceptId, frame },
      () =>
        `broadcast reached ${recipients} local client(s) but not the other instances`,
    );
    return { recipients, instances: 1 + remote };
  }

  /**
   * Pushes `{"event":<event>,"data":<data>}` to one connection, on whatever instance holds it.
   * Resolves true when it was sent (locally) or handed to the bus for the instance that holds it
   * (and that instance was listening); false when no such connection is known.
   */
  async sendToConnection(
    connectionId: string,
    event: string,
    data: unknown,
  ): Promise<boolean> {
    const frame = JSON.stringify({
      event,
      data: data === undefined ? null : data,
    });
    if (this.local.info(connectionId))
      return this.local.sendTo(connectionId, frame, 'direct');
    const instance = instanceOf(connectionId);
    if (!instance || instance === this.instanceId) return false;
    const reached = await this.fanOut.publish(
      instanceChannel(instance),
      { to: connectionId, frame },
      () => `the message could not reach instance ${instance}`,
    );
    return reached > 0;
  }

  private readonly deliverToAll = (message: BusMessage): void => {
    this.local.sendToAll(message.frame, message.exceptId, 'broadcast');
  };

  private readonly deliverToOne = (message: BusMessage): void => {
    if (message.to) this.local.sendTo(message.to, message.frame, 'direct');
  };
}
