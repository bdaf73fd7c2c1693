import { Injectable, Logger } from '@nestjs/common';
import type { ConnectionInfo } from '../protocol/connection.js';

/** How a connection ended, as the close frame (or its absence, 1006) said. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** The lifecycle events of connections, and their arguments. */
export interface GatewayEventMap {
  connected: [connection: ConnectionInfo];
  disconnected: [connection: ConnectionInfo, close: CloseInfo];
  joined: [connection: ConnectionInfo, room: string];
  left: [connection: ConnectionInfo, room: string];
}

type Listener<E extends keyof GatewayEventMap> = (
  ...args: GatewayEventMap[E]
) => void;

/**
 * Connection lifecycle hooks, for audit, presence and the gateway's own bookkeeping. Listeners
 * run synchronously, in order of registration; one that throws is logged and the others still
 * run, so a faulty hook never breaks a connection's open or close.
 */
@Injectable()
export class GatewayEvents {
  private readonly logger = new Logger('Gateway');
  private readonly listeners: {
    [E in keyof GatewayEventMap]: Array<Listener<E>>;
  } = {
    connected: [],
    disconnected: [],
    joined: [],
    left: [],
  };

  /** Registers a listener; returns the function that removes it. */
  on<E extends keyof GatewayEventMap>(
    event: E,
    listener: Listener<E>,
  ): () => void {
    const list = this.listeners[event] as Array<Listener<E>>;
    list.push(listener);
    return () => {
      const index = list.indexOf(listener);
      if (index !== -1) list.splice(index, 1);
    };
  }

  emit<E extends keyof GatewayEventMap>(
    event: E,
    ...args: GatewayEventMap[E]
  ): void {
    for (const listener of this.listeners[event] as Array<Listener<E>>) {
      try {
        listener(...args);
      } catch (err) {
        this.logger.error({ err, event }, 'lifecycle listener failed');
      }
    }
  }
}
