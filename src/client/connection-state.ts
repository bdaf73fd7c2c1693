/**
 * `idle` (never connected), `connecting` (first attempt), `open`, `reconnecting` (waiting for the
 * next attempt, or in one, or joining the rooms again), `closed` (closed, refused or given up).
 */
export type ClientState =
  'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A change of state, as the `state` lifecycle event carries it. */
export interface StateChange {
  state: ClientState;
  previous: ClientState;
}

/**
 * The moves the client makes. `closed` leads back to `reconnecting` (not only `connecting`) when
 * the client had opened and was not closed by the app: after 4401 or giving up, `connect()` joins
 * the rooms again.
 */
const NEXT: Readonly<Record<ClientState, readonly ClientState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['open', 'closed'],
  closed: ['connecting', 'reconnecting'],
};

/** Whether the client ever moves from `from` to `to` (staying put is not a move). */
export function canTransition(from: ClientState, to: ClientState): boolean {
  return NEXT[from].includes(to);
}

/**
 * The connection's state, and whether it has opened since the app last closed it, which decides
 * whether the next attempt is a first connection or a reconnection. Pure: the client emits the
 * changes it returns.
 */
export class ConnectionState {
  private current: ClientState = 'idle';
  private openedOnce = false;

  get state(): ClientState {
    return this.current;
  }

  /** Opened since the last `forgetOpened()`: a later open is a reconnection. */
  get hasOpened(): boolean {
    return this.openedOnce;
  }

  /** The state of an attempt, or of the wait before one. */
  get attemptState(): 'connecting' | 'reconnecting' {
    return this.openedOnce ? 'reconnecting' : 'connecting';
  }

  /**
   * Moves to `next`; returns the change, or undefined when already there. Throws on a move the
   * client never makes, since that is a bug in the client, not a condition of the network.
   */
  moveTo(next: ClientState): StateChange | undefined {
    const previous = this.current;
    if (previous === next) return undefined;
    if (!canTransition(previous, next)) {
      throw new Error(
        `GatewayClient: no transition from ${previous} to ${next}`,
      );
    }
    this.current = next;
    return { state: next, previous };
  }

  /** Moves to `open`, remembering that any later open is a reconnection. */
  open(): StateChange | undefined {
    this.openedOnce = true;
    return this.moveTo('open');
  }

  /** The app closed the client: its next `connect()` is a first connection again. */
  forgetOpened(): void {
    this.openedOnce = false;
  }
}
