import {
  Inject,
  Injectable,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import {
  LOCAL_DELIVERY,
  type LocalDelivery,
} from '../connections/local-delivery.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import { CloseCode } from '../../protocol/close-codes.js';
import type { ConnectionInfo } from '../connections/connection.js';

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Closes a connection with 4401 when its principal's credential expires, so a client holding an
 * expired token is not left connected until it next sends something (the guard refuses its
 * messages in the meantime). One timer per connection whose principal has an expiry, armed on
 * `connected` and cleared on `disconnected`: the timers never outnumber the open connections.
 */
@Injectable()
export class TokenExpiryWatch implements OnModuleInit, OnModuleDestroy {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: Array<() => void> = [];

  constructor(
    private readonly events: GatewayEvents,
    @Inject(LOCAL_DELIVERY) private readonly delivery: LocalDelivery,
  ) {}

  /** How many connections are being watched. */
  get size(): number {
    return this.timers.size;
  }

  onModuleInit(): void {
    this.unsubscribe = [
      this.events.on('connected', (connection) => this.watch(connection)),
      this.events.on('disconnected', ({ id }) => this.forget(id)),
    ];
  }

  onModuleDestroy(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Starts watching a connection; one without an expiry is left alone. */
  watch(connection: ConnectionInfo): void {
    const { expiresAt } = connection.principal;
    if (expiresAt === undefined) return;
    this.forget(connection.id);
    this.arm(connection.id, expiresAt);
  }

  /** Stops watching a connection (it closed). */
  forget(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private arm(id: string, expiresAt: number): void {
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) {
      // Expired at the very moment it connected: the guard would refuse all it sends anyway.
      this.timers.delete(id);
      this.delivery.close(id, CloseCode.TOKEN_EXPIRED, 'token expired');
      return;
    }
    // Further out than a timer reaches: wake up at the limit and arm again from there. The same
    // when the wall clock and the timer clock disagree and the timer fires a little early.
    const timer = setTimeout(
      () => this.arm(id, expiresAt),
      Math.min(remaining, MAX_TIMER_DELAY_MS),
    );
    timer.unref();
    this.timers.set(id, timer);
  }
}
