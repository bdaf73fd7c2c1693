import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import type {
  BroadcastReceipt,
  PublishReceipt,
} from '../../protocol/frames.js';
import { BroadcastService } from '../broadcast/broadcast.service.js';
import { RoomsService } from '../rooms/rooms.service.js';
import type { ConsoleUser } from './console-access.js';
import { ConsoleCluster } from './console-cluster.js';
import { isOperatorCloseCode } from './local-console.js';

/** The close code and reason of a disconnect that gives none. */
export const DEFAULT_DISCONNECT = {
  code: 4000,
  reason: 'disconnected by an operator',
} as const;
/** A close frame's reason fits in 123 bytes. */
const MAX_REASON_BYTES = 123;
const MAX_CONNECTION_ID_LENGTH = 128;
/** Event names an operator may push to one connection. */
const EVENT_NAME = /^[\w.:/-]{1,64}$/;

/** Who asked, from where: the audit line's first fields. */
export interface Actor {
  readonly user: ConsoleUser;
  readonly address: string;
}

/**
 * What an administrator can do from the console, each written to the log as an audit line
 * (`ConsoleAudit`: who, what, target, result), refused attempts included. Pushes say they come
 * from `console:<name>`.
 */
@Injectable()
export class ConsoleActions {
  private readonly audit = new Logger('ConsoleAudit');

  constructor(
    private readonly rooms: RoomsService,
    private readonly broadcasts: BroadcastService,
    private readonly cluster: ConsoleCluster,
  ) {}

  publish(actor: Actor, room: unknown, data: unknown): Promise<PublishReceipt> {
    return this.act(actor, 'publish', textOf(room), () => {
      if (typeof room !== 'string')
        throw GatewayError.badRequest('room: must be a room name');
      return this.rooms.publish({ room, from: sender(actor), data });
    });
  }

  broadcast(actor: Actor, data: unknown): Promise<BroadcastReceipt> {
    return this.act(actor, 'broadcast', '*', () =>
      this.broadcasts.broadcast({ from: sender(actor), data }),
    );
  }

  send(
    actor: Actor,
    connectionId: unknown,
    event: unknown,
    data: unknown,
  ): Promise<{ sent: boolean }> {
    const target = textOf(connectionId);
    return this.act(actor, 'send', target, async () => {
      requireConnectionId(target);
      const name = event ?? 'message';
      if (
        typeof name !== 'string' ||
        !EVENT_NAME.test(name) ||
        name === 'error'
      )
        throw GatewayError.badRequest(
          'event: must be 1-64 letters, digits or . : / - _, and not "error"',
        );
      return {
        sent: await this.broadcasts.sendToConnection(target, name, data),
      };
    });
  }

  disconnect(
    actor: Actor,
    connectionId: unknown,
    code: unknown,
    reason: unknown,
  ): Promise<{ closed: boolean }> {
    const target = textOf(connectionId);
    return this.act(actor, 'disconnect', target, async () => {
      requireConnectionId(target);
      const closeCode = code ?? DEFAULT_DISCONNECT.code;
      if (!isOperatorCloseCode(closeCode))
        throw GatewayError.badRequest(
          'code: must be 1000, or from 3000 to 4999',
        );
      const why = reason ?? DEFAULT_DISCONNECT.reason;
      if (typeof why !== 'string' || Buffer.byteLength(why) > MAX_REASON_BYTES)
        throw GatewayError.badRequest(
          `reason: must be text of at most ${MAX_REASON_BYTES} bytes`,
        );
      return { closed: await this.cluster.disconnect(target, closeCode, why) };
    });
  }

  /** Writes the audit line of an action refused before it ran (no role, no CSRF token). */
  refused(actor: Actor, action: string, target: string, why: string): void {
    this.line(actor, action, target, `refused: ${why}`);
  }

  private async act<T>(
    actor: Actor,
    action: string,
    target: string,
    run: () => Promise<T>,
  ): Promise<T> {
    if (actor.user.role !== 'admin') {
      this.refused(actor, action, target, 'not an admin');
      throw GatewayError.forbidden(`${action} needs the admin role`);
    }
    try {
      const result = await run();
      this.line(actor, action, target, 'ok');
      return result;
    } catch (err) {
      const code = err instanceof GatewayError ? err.code : ErrorCode.INTERNAL;
      this.line(actor, action, target, `failed: ${code}`);
      throw err;
    }
  }

  private line(
    actor: Actor,
    action: string,
    target: string,
    result: string,
  ): void {
    this.audit.log(
      {
        user: actor.user.name,
        role: actor.user.role,
        action,
        // A target is an id or a room name the operator typed: cut, never a payload.
        target: target.slice(0, 200),
        result,
        address: actor.address,
      },
      'console action',
    );
  }
}

const sender = (actor: Actor): string => `console:${actor.user.name}`;

/** A text field of a request, or '' (an audit line names what was asked, checked or not). */
const textOf = (value: unknown): string =>
  typeof value === 'string' ? value : '';

/** Connection ids are `<instance>-<n>`: short, never empty. */
function requireConnectionId(id: string): void {
  if (id.length === 0 || id.length > MAX_CONNECTION_ID_LENGTH)
    throw GatewayError.badRequest('connectionId: must be a connection id');
}
