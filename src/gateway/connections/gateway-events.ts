import { Injectable, Logger } from '@nestjs/common';
import type { ConnectionInfo } from './connection.js';

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
  // Copy-on-write lists: `emit` walks the list as it was when the event began, so a listener
  // that removes itself, or adds another, never makes a neighbour skip or run early; and each
  // registration is its own entry, so removing one never removes a twin.
  private listeners: {
    [E in keyof GatewayEventMap]: ReadonlyArray<{ listener: Listener<E> }>;
  } = { connected: [], disconnected: [], joined: [], left: [] };

  /** Registers a listener; returns the function that removes it (again: no effect). */
  on<E extends keyof GatewayEventMap>(
    event: E,
    listener: Listener<E>,
  ): () => void {
    const entry = { listener };
    this.replace(event, [...this.list(event), entry]);
    return () => {
      this.replace(
        event,
        this.list(event).filter((e) => e !== entry),
      );
    };
  }

  emit<E extends keyof GatewayEventMap>(
    event: E,
    ...args: GatewayEventMap[E]
  ): void {
    for (const { listener } of this.list(event)) {
      try {
        listener(...args);
      } catch (err) {
        this.logger.error({ err, event }, 'lifecycle listener failed');
      }
    }
  }

  private list<E extends keyof GatewayEventMap>(
    event: E,
  ): ReadonlyArray<{ listener: Listener<E> }> {
    return this.listeners[event] as ReadonlyArray<{ listener: Listener<E> }>;
  }

  private replace<E extends keyof GatewayEventMap>(
    event: E,
    list: ReadonlyArray<{ listener: Listener<E> }>,
  ): void {
    this.listeners = { ...this.listeners, [event]: list };
  }
}
