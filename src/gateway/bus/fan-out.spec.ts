import { resolveGatewayOptions } from '../gateway.options.js';
import { ConnectionRegistry } from '../connections/connection-registry.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { TrafficStats } from '../connections/traffic-stats.js';
import { ErrorJournal } from '../connections/error-journal.js';
import { BusCounts } from '../telemetry/instrumented-message-bus.js';
import { UnavailableBus } from '../../../test/support/unavailable-bus.js';
import { FanOut } from './fan-out.js';
import { InMemoryHub, InMemoryMessageBus } from './in-memory-message-bus.js';
import type { BusMessage, MessageBus } from './message-bus.js';

/** The real metrics of one instance on `bus`. */
function metricsOn(bus: MessageBus, instanceId: string): GatewayMetrics {
  const traffic = new TrafficStats();
  return new GatewayMetrics(
    traffic,
    new ConnectionRegistry(
      instanceId,
      traffic,
      resolveGatewayOptions(),
      new ErrorJournal(),
    ),
    bus,
    new BusCounts(),
  );
}

/** Count and sum (seconds) of the delivery latency histogram, from the Prometheus text. */
async function latency(metrics: GatewayMetrics) {
  const text = await metrics.registry.metrics();
  const value = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    count: value('gateway_delivery_latency_seconds_count'),
    sum: value('gateway_delivery_latency_seconds_sum'),
  };
}

describe('FanOut', () => {
  it('stamps every message with its origin and the time it is sent', async () => {
    const hub = new InMemoryHub();
    const fanOut = new FanOut(new InMemoryMessageBus(hub), 'i1');
    const seen: BusMessage[] = [];
    await new InMemoryMessageBus(hub).subscribe('ch', (m) => {
      seen.push(m);
    });
    const before = Date.now();
    await expect(
      fanOut.publish('ch', { frame: 'f', exceptId: 'i1-1' }, () => 'x'),
    ).resolves.toBe(1);
    await fanOut.publish('ch', { frame: 'g', to: 'i2-1' }, () => 'x');
    const after = Date.now();
    const stamped = expect.any(Number) as number;
    expect(seen).toEqual([
      { origin: 'i1', exceptId: 'i1-1', frame: 'f', sentAt: stamped },
      { origin: 'i1', to: 'i2-1', frame: 'g', sentAt: stamped },
    ]);
    for (const { sentAt } of seen) {
      expect(sentAt).toBeGreaterThanOrEqual(before);
      expect(sentAt).toBeLessThanOrEqual(after);
    }
  });

  it('observes each message received in the delivery latency histogram, then hands it on', async () => {
    const hub = new InMemoryHub();
    const receivingBus = new InMemoryMessageBus(hub);
    const metrics = metricsOn(receivingBus, 'i2');
    const receiving = new FanOut(receivingBus, 'i2', metrics);
    const handed: string[] = [];
    await receiving.subscribe('ch', (m) => {
      handed.push(m.frame);
    });
    await new FanOut(new InMemoryMessageBus(hub), 'i1').publish(
      'ch',
      { frame: 'f' },
      () => 'x',
    );
    expect(handed).toEqual(['f']);
    const { count, sum } = await latency(metrics);
    expect(count).toBe(1);
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum).toBeLessThan(1);
  });

  it('hands on a message without sentAt (another publisher) without measuring it', async () => {
    const hub = new InMemoryHub();
    const receivingBus = new InMemoryMessageBus(hub);
    const metrics = metricsOn(receivingBus, 'i2');
    const handed: string[] = [];
    await new FanOut(receivingBus, 'i2', metrics).subscribe('ch', (m) => {
      handed.push(m.frame);
    });
    await new InMemoryMessageBus(hub).publish('ch', {
      origin: 'i9',
      frame: 'f',
    });
    expect(handed).toEqual(['f']);
    expect((await latency(metrics)).count).toBe(0);
  });

  it('stops handing on after unsubscribe', async () => {
    const hub = new InMemoryHub();
    const receiving = new FanOut(new InMemoryMessageBus(hub), 'i2');
    const handed: string[] = [];
    await receiving.subscribe('ch', (m) => {
      handed.push(m.frame);
    });
    await receiving.unsubscribe('ch');
    await expect(
      new FanOut(new InMemoryMessageBus(hub), 'i1').publish(
        'ch',
        { frame: 'f' },
        () => 'x',
      ),
    ).resolves.toBe(0);
    expect(handed).toEqual([]);
  });

  it('turns a bus failure into UNAVAILABLE, saying what was not done but not why', async () => {
    const bus = new UnavailableBus('Redis at 10.0.0.5:6379 is away');
    const error = await new FanOut(bus, 'i1')
      .publish('ch', { frame: 'f' }, () => 'the message went nowhere')
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((error as GatewayError).message).toBe(
      'the message went nowhere: the message bus is unavailable',
    );
    expect(bus.published).toHaveLength(1);
  });
});
