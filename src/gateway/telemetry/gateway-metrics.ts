import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HandshakeRejectionReason } from '../admission/handshake-authenticator.js';
import { MESSAGE_BUS, type MessageBus } from '../bus/message-bus.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { BusCounts } from './instrumented-message-bus.js';

/** Reads a number at scrape time into a counter (prom-client counters cannot be set). */
function settle(
  counter: Counter<string>,
  value: number,
  labels?: Record<string, string>,
): void {
  if (labels) {
    counter.remove(labels);
    counter.inc(labels, value);
  } else {
    counter.reset();
    counter.inc(value);
  }
}

/**
 * The gateway's Prometheus metrics, on a registry of their own (`registry`) so a host app can
 * merge them into its own without name clashes. Hot-path numbers are plain counters read at
 * scrape time; only events that are rare per message (handshakes, fan-outs) touch prom-client
 * directly. Every name starts with `gateway_`; labels are bounded sets.
 */
@Injectable()
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly handshakeRejections: Counter<'reason'>;
  private readonly connectionsTotal: Counter<string>;
  private readonly fanoutRecipients: Histogram<'kind'>;
  private readonly deliveryLatency: Histogram<string>;
  private readonly recoveries: Counter<'outcome'>;
  private readonly recoveredMessages: Histogram<string>;
  /** Room messages appended to history; read at scrape time, as it counts every publish. */
  private readonly history = { appended: 0 };

  constructor(
    traffic: TrafficStats,
    connections: ConnectionRegistry,
    @Inject(MESSAGE_BUS) bus: MessageBus,
    busCounts: BusCounts,
  ) {
    const registers = [this.registry];
    new Gauge({
      name: 'gateway_connections_open',
      help: 'WebSocket connections open on this instance',
      registers,
      collect() {
        this.set(connections.size);
      },
    });
    this.connectionsTotal = new Counter({
      name: 'gateway_connections_total',
      help: 'WebSocket connections accepted since start',
      registers,
    });
    this.handshakeRejections = new Counter({
      name: 'gateway_handshake_rejections_total',
      help: 'Upgrade requests refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    new Counter({
      name: 'gateway_messages_in_total',
      help: 'Frames received, by event (handler name, or unknown, invalid, text, binary)',
      labelNames: ['event'],
      registers,
      collect() {
        for (const [event, n] of traffic.messagesIn) settle(this, n, { event });
      },
    });
    new Counter({
      name: 'gateway_messages_out_total',
      help: 'Frames sent, by event: the request event for replies, error, text, or the push event',
      labelNames: ['event'],
      registers,
      collect() {
        for (const [event, n] of traffic.messagesOut)
          settle(this, n, { event });
      },
    });
    new Counter({
      name: 'gateway_errors_total',
      help: 'Error frames sent, by protocol error code',
      labelNames: ['code'],
      registers,
      collect() {
        for (const [code, n] of traffic.errors) settle(this, n, { code });
      },
    });
    new Counter({
      name: 'gateway_bytes_in_total',
      help: 'Payload bytes received in frames',
      registers,
      collect() {
        settle(this, traffic.bytesIn);
      },
    });
    new Counter({
      name: 'gateway_bytes_out_total',
      help: 'Payload bytes sent in frames',
      registers,
      collect() {
        settle(this, traffic.bytesOut);
      },
    });
    this.fanoutRecipients = new Histogram({
      name: 'gateway_fanout_recipients',
      help: 'Local recipients of one broadcast or room message',
      labelNames: ['kind'],
      buckets: [0, 1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'gateway_delivery_latency_seconds',
      help: 'From publish on one instance to receipt on this one (broadcast, room and direct messages)',
      buckets: [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
      ],
      registers,
    });
    const history = this.history;
    new Counter({
      name: 'gateway_history_appended_total',
      help: 'Room messages appended to history by this instance',
      registers,
      collect() {
        settle(this, history.appended);
      },
    });
    this.recoveries = new Counter({
      name: 'gateway_recoveries_total',
      help: 'Recoveries asked for (join or resume with since), by outcome: recovered, gone (messages no longer kept or over the limit), epoch (the stream was lost), too_large (more bytes than the connection may be sent at once), unavailable (the store could not be read)',
      labelNames: ['outcome'],
      registers,
    });
    this.recoveredMessages = new Histogram({
      name: 'gateway_recovery_messages',
      help: 'Messages replayed by one successful recovery',
      buckets: [0, 1, 10, 50, 100, 300, 1_000, 5_000, 10_000],
      registers,
    });
    new Gauge({
      name: 'gateway_bus_up',
      help: '1 when the message bus (Redis) can publish, else 0',
      registers,
      collect() {
        this.set(bus.isReady() ? 1 : 0);
      },
    });
    new Counter({
      name: 'gateway_bus_published_total',
      help: 'Messages published to other instances',
      registers,
      collect() {
        settle(this, busCounts.published);
      },
    });
    new Counter({
      name: 'gateway_bus_publish_failures_total',
      help: 'Messages that could not be published (bus down or too slow): their acks said UNAVAILABLE',
      registers,
      collect() {
        settle(this, busCounts.publishFailures);
      },
    });
    new Counter({
      name: 'gateway_bus_malformed_total',
      help: 'Messages on a gateway channel that were not in the bus format (another program, or another version of the gateway): dropped',
      registers,
      collect() {
        settle(this, busCounts.malformed);
      },
    });
    new Counter({
      name: 'gateway_bus_received_total',
      help: 'Messages received from other instances',
      registers,
      collect() {
        settle(this, busCounts.received);
      },
    });
  }

  connectionAccepted(): void {
    this.connectionsTotal.inc();
  }

  handshakeRejected(
    reason:
      HandshakeRejectionReason | 'path' | 'draining' | 'origin' | 'capacity',
  ): void {
    this.handshakeRejections.inc({ reason });
  }

  /** A room message was appended to history. */
  historyAppended(): void {
    this.history.appended++;
  }

  /** A recovery ended with `outcome`, replaying `messages` when it succeeded. */
  recovery(
    outcome: 'recovered' | 'gone' | 'epoch' | 'too_large' | 'unavailable',
    messages: number,
  ): void {
    this.recoveries.inc({ outcome });
    if (outcome === 'recovered') this.recoveredMessages.observe(messages);
  }

  fannedOut(kind: 'broadcast' | 'room', recipients: number): void {
    this.fanoutRecipients.observe({ kind }, recipients);
  }

  /**
   * A message published by another instance arrived here `latencyMs` after it was sent
   * (broadcast, room or direct alike).
   */
  arrivedFromBus(latencyMs: number): void {
    this.deliveryLatency.observe(latencyMs / 1000);
  }
}
