import { resolveGatewayOptions } from '../gateway.options.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { ErrorJournal } from '../connections/error-journal.js';
import { UnavailableBus } from '../../../test/support/unavailable-bus.js';
import { sample } from '../../../test/support/metrics.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import type {
  BusListener,
  BusMessage,
  MessageBus,
} from '../bus/message-bus.js';
import { GatewayMetrics } from './gateway-metrics.js';
import {
  BusCounts,
  InstrumentedMessageBus,
} from './instrumented-message-bus.js';

const message = (origin: string, frame = '{"event":"x"}'): BusMessage => ({
  origin,
  frame,
});

/** A host's own bus, as a NATS client would be: it knows nothing of the gateway's metrics. */
class HostBus implements MessageBus {
  static readonly listeners = new Map<string, Set<BusListener>>();
  private readonly own = new Map<string, BusListener>();
  ready = true;

  publish(channel: string, m: BusMessage): Promise<number> {
    const others = [...(HostBus.listeners.get(channel) ?? [])].filter(
      (l) => ![...this.own.values()].includes(l),
    );
    for (const listener of others) listener(m);
    return Promise.resolve(others.length);
  }

  subscribe(channel: string, listener: BusListener): Promise<void> {
    this.own.set(channel, listener);
    let set = HostBus.listeners.get(channel);
    if (!set) HostBus.listeners.set(channel, (set = new Set()));
    set.add(listener);
    return Promise.resolve();
  }

  unsubscribe(channel: string): Promise<void> {
    const listener = this.own.get(channel);
    if (listener) HostBus.listeners.get(channel)?.delete(listener);
    this.own.delete(channel);
    return Promise.resolve();
  }

  isReady(): boolean {
    return this.ready;
  }
}

describe('InstrumentedMessageBus', () => {
  afterEach(() => HostBus.listeners.clear());

  it('passes publishes through, counting each one the bus accepted', async () => {
    const hub = new InMemoryHub();
    const sender = new InstrumentedMessageBus(new InMemoryMessageBus(hub));
    const seen: BusMessage[] = [];
    await new InMemoryMessageBus(hub).subscribe('ch', (m) => {
      seen.push(m);
    });
    const sent = message('a');
    await expect(sender.publish('ch', sent)).resolves.toBe(1);
    await expect(sender.publish('other', message('a'))).resolves.toBe(0);
    expect(seen).toEqual([sent]);
    expect(seen[0]).toBe(sent);
    expect(sender.counts).toMatchObject({
      published: 2,
      publishFailures: 0,
      received: 0,
    });
  });

  it('counts a refused publish as a failure and rejects with the bus’s own error', async () => {
    const inner = new UnavailableBus('Redis at 10.0.0.5:6379 is away');
    const bus = new InstrumentedMessageBus(inner);
    await expect(bus.publish('ch', message('a'))).rejects.toThrow(
      'Redis at 10.0.0.5:6379 is away',
    );
    expect(inner.published).toHaveLength(1);
    expect(bus.counts).toMatchObject({ published: 0, publishFailures: 1 });
  });

  it('counts a publish that throws before it returns a promise as a failure', async () => {
    const inner = new InMemoryMessageBus();
    inner.publish = () => {
      throw new Error('not connected');
    };
    const bus = new InstrumentedMessageBus(inner);
    await expect(bus.publish('ch', message('a'))).rejects.toThrow(
      'not connected',
    );
    expect(bus.counts.publishFailures).toBe(1);
  });

  it('counts what is handed to a listener, after the bus left out its own messages', async () => {
    const hub = new InMemoryHub();
    const a = new InstrumentedMessageBus(new InMemoryMessageBus(hub));
    const b = new InstrumentedMessageBus(new InMemoryMessageBus(hub));
    const atA: string[] = [];
    const atB: string[] = [];
    await a.subscribe('ch', (m) => {
      atA.push(m.frame);
    });
    await b.subscribe('ch', (m) => {
      atB.push(m.frame);
    });
    await a.publish('ch', message('a', '1'));
    await a.publish('ch', message('a', '2'));
    await b.publish('ch', message('b', '3'));
    expect(atA).toEqual(['3']);
    expect(atB).toEqual(['1', '2']);
    expect(a.counts).toMatchObject({ published: 2, received: 1 });
    expect(b.counts).toMatchObject({ published: 1, received: 2 });
  });

  it('stops counting a channel once unsubscribed, as the bus stops delivering it', async () => {
    const hub = new InMemoryHub();
    const receiving = new InstrumentedMessageBus(new InMemoryMessageBus(hub));
    await receiving.subscribe('ch', () => undefined);
    await receiving.unsubscribe('ch');
    await expect(
      new InMemoryMessageBus(hub).publish('ch', message('p')),
    ).resolves.toBe(0);
    expect(receiving.counts.received).toBe(0);
  });

  it('reports the readiness of the bus it wraps', () => {
    const inner = new HostBus();
    const bus = new InstrumentedMessageBus(inner);
    expect(bus.isReady()).toBe(true);
    inner.ready = false;
    expect(bus.isReady()).toBe(false);
    expect(bus.inner).toBe(inner);
  });

  it('measures a host’s own bus the same way', async () => {
    const a = new InstrumentedMessageBus(new HostBus());
    const b = new InstrumentedMessageBus(new HostBus());
    const atB: string[] = [];
    await b.subscribe('ch', (m) => {
      atB.push(m.frame);
    });
    await expect(a.publish('ch', message('a', 'f'))).resolves.toBe(1);
    expect(atB).toEqual(['f']);
    expect(a.counts.published).toBe(1);
    expect(b.counts.received).toBe(1);
  });

  it('is what GatewayMetrics reads for the gateway_bus_* counters', async () => {
    const counts = new BusCounts();
    const bus = new InstrumentedMessageBus(new InMemoryMessageBus(), counts);
    const traffic = new TrafficStats();
    const metrics = new GatewayMetrics(
      traffic,
      new ConnectionRegistry(
        'i1',
        traffic,
        resolveGatewayOptions(),
        new ErrorJournal(),
      ),
      bus,
      counts,
    );
    await bus.publish('ch', message('i1'));
    await bus.publish('ch', message('i1'));
    counts.received = 5;
    counts.publishFailures = 3;
    const text = await metrics.registry.metrics();
    expect(sample(text, 'gateway_bus_published_total')).toBe(2);
    expect(sample(text, 'gateway_bus_publish_failures_total')).toBe(3);
    expect(sample(text, 'gateway_bus_received_total')).toBe(5);
    expect(sample(text, 'gateway_bus_up')).toBe(1);
  });
});
