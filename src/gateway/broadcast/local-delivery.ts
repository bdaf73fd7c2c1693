/**
 * Delivery to the sockets of this instance, by connection id and serialized frame. It is how
 * services reach clients without knowing what a socket is.
 */
export interface LocalDelivery {
  /** Sends to every local connection but `exceptId`; returns how many were sent to. */
  sendToAll(frame: string, exceptId?: string): number;
  /** Sends to one local connection; false when it is not here or no longer open. */
  sendTo(connectionId: string, frame: string): boolean;
}

/** Injection token of the {@link LocalDelivery}. */
export const LOCAL_DELIVERY = Symbol('LOCAL_DELIVERY');
