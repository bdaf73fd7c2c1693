import { Inject, Injectable } from '@nestjs/common';
import {
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { MESSAGE_BUS, type MessageBus } from '../gateway/bus/message-bus.js';
import { DrainState } from '../gateway/connections/drain-state.js';
import { ConnectionRegistry } from '../gateway/connections/connection-registry.js';
import { InstrumentedMessageBus } from '../gateway/telemetry/instrumented-message-bus.js';
import {
  HISTORY_STORE,
  type HistoryStore,
} from '../gateway/history/history-store.js';
import {
  PRESENCE_STORE,
  type PresenceStore,
} from '../gateway/presence/presence-store.js';

/**
 * Readiness of the gateway itself: not draining, its message bus can publish, and its history
 * and presence stores answer (a client sent here could not resume its rooms otherwise).
 */
@Injectable()
export class GatewayHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly drain: DrainState,
    private readonly registry: ConnectionRegistry,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
    @Inject(HISTORY_STORE) private readonly history: HistoryStore,
    @Inject(PRESENCE_STORE) private readonly presence: PresenceStore,
  ) {}

  /** Down while the instance drains for shutdown. */
  accepting(): HealthIndicatorResult<'gateway'> {
    const check = this.indicators.check('gateway');
    const data = { connections: this.registry.size };
    return this.drain.draining
      ? check.down({ ...data, message: 'draining' })
      : check.up(data);
  }

  /** Down while the bus cannot publish (Redis away); always up for the in-memory bus. */
  messageBus(): HealthIndicatorResult<'bus'> {
    const check = this.indicators.check('bus');
    // The bus that carries the messages (RedisMessageBus, a host's own), not the one measuring it.
    const carrier =
      this.bus instanceof InstrumentedMessageBus ? this.bus.inner : this.bus;
    const kind = carrier.constructor.name;
    return this.bus.isReady()
      ? check.up({ kind })
      : check.down({ kind, message: 'cannot publish' });
  }

  /** Down while the history or presence store cannot be reached (Redis away). */
  stores(): HealthIndicatorResult<'stores'> {
    const check = this.indicators.check('stores');
    const data = {
      history: this.history.constructor.name,
      presence: this.presence.constructor.name,
    };
    const down = [
      this.history.isReady?.() === false ? 'history' : undefined,
      this.presence.isReady?.() === false ? 'presence' : undefined,
    ].filter(Boolean);
    return down.length === 0
      ? check.up(data)
      : check.down({ ...data, message: `cannot reach ${down.join(' and ')}` });
  }
}
