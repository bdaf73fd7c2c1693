import type { ConnectionInfo } from './connection.js';

/**
 * The connections of this instance, reached by id with frames already serialized. It is how
 * services deliver to clients without knowing what a socket is.
 */
export interface LocalDelivery {
  /** Facts about a local connection, or undefined when it is not (or no longer) here. */
  info(connectionId: string): ConnectionInfo | undefined;
  /**
   * Sends to every local connection but `exceptId`; returns how many were sent to. `event`
   * names the push in the traffic metrics (`push` when not given).
   */
  sendToAll(frame: string, exceptId?: string, event?: string): number;
  /** Sends to each listed local connection but `exceptId`; returns how many were sent to. */
  sendToEach(
    connectionIds: Iterable<string>,
    frame: string,
    exceptId?: string,
    event?: string,
  ): number;
  /** Sends to one local connection; false when it is not here or no longer open. */
  sendTo(connectionId: string, frame: string, event?: string): boolean;
  /**
   * Sends stored frames to one local connection at its own request (a recovery), charging
   * their bytes to its fan-out budget as if it had published them; returns how many were sent.
   */
  replay(
    connectionId: string,
    frames: readonly string[],
    event: string,
  ): number;
  /** Closes one local connection with a close code and reason; false when it is not here. */
  close(connectionId: string, code: number, reason: string): boolean;
}

/** Injection token of the {@link LocalDelivery}. */
export const LOCAL_DELIVERY = Symbol('LOCAL_DELIVERY');
