import { captureErrorLogs } from '../../../test/support/capture-error-logs.js';
import { InMemoryHub, InMemoryMessageBus } from './in-memory-message-bus.js';
import type { BusMessage } from './message-bus.js';

const message = (origin: string, frame = '{"event":"x"}'): BusMessage => ({
  origin,
  frame,
});

/** Subscribes a recorder to `channel` and returns what it receives. */
async function record(bus: InMemoryMessageBus, channel: string) {
  const received: BusMessage[] = [];
  await bus.subscribe(channel, (m) => {
    received.push(m);
  });
  return received;
}

describe('InMemoryMessageBus', () => {
  it('delivers to the other buses of its hub, not to itself', async () => {
    const hub = new InMemoryHub();
    const a = new InMemoryMessageBus(hub);
    const b = new InMemoryMessageBus(hub);
    const c = new InMemoryMessageBus(hub);
    const atA = await record(a, 'ch');
    const atB = await record(b, 'ch');
    const atC = await record(c, 'ch');

    const sent = message('a');
    await expect(a.publish('ch', sent)).resolves.toBe(2);

    expect(atA).toEqual([]);
    expect(atB).toEqual([sent]);
    expect(atC).toEqual([sent]);
    expect(atB[0]).toBe(sent);
  });

  it('never hands a bus its own message back, even as the only subscriber', async () => {
    const hub = new InMemoryHub();
    const a = new InMemoryMessageBus(hub);
    const atA = await record(a, 'ch');
    // Whatever the message says its origin is: the bus knows who published it.
    await expect(a.publish('ch', message('someone-else'))).resolves.toBe(0);
    await expect(a.publish('ch', message('a'))).resolves.toBe(0);
    expect(atA).toEqual([]);
  });

  it('delivers synchronously, before publish resolves, in publish order', async () => {
    const hub = new InMemoryHub();
    const a = new InMemoryMessageBus(hub);
    const b = new InMemoryMessageBus(hub);
    const atB = await record(b, 'ch');
    const first = a.publish('ch', message('a', '1'));
    void a.publish('ch', message('a', '2'));
    expect(atB.map((m) => m.frame)).toEqual(['1', '2']);
    await first;
  });

  it('keeps channels apart', async () => {
    const hub = new InMemoryHub();
    const a = new InMemoryMessageBus(hub);
    const b = new InMemoryMessageBus(hub);
    const atB = await record(b, 'rooms');
    await expect(a.publish('broadcast', message('a'))).resolves.toBe(0);
    expect(atB).toEqual([]);
  });

  it('does not reach buses of another hub', async () => {
    const a = new InMemoryMessageBus(new InMemoryHub());
    const b = new InMemoryMessageBus(new InMemoryHub());
    const atB = await record(b, 'ch');
    await expect(a.publish('ch', message('a'))).resolves.toBe(0);
    expect(atB).toEqual([]);
  });

  it('has no peers when built without a hub', async () => {
    const a = new InMemoryMessageBus();
    const b = new InMemoryMessageBus();
    const atA = await record(a, 'ch');
    const atB = await record(b, 'ch');
    await expect(a.publish('ch', message('a'))).resolves.toBe(0);
    await expect(b.publish('ch', message('b'))).resolves.toBe(0);
    expect(atA).toEqual([]);
    expect(atB).toEqual([]);
  });

  it('resolves 0 when nobody is subscribed', async () => {
    const bus = new InMemoryMessageBus(new InMemoryHub());
    await expect(bus.publish('ch', message('a'))).resolves.toBe(0);
  });

  it('can publish without subscribing itself', async () => {
    const hub = new InMemoryHub();
    const publisher = new InMemoryMessageBus(hub);
    const atB = await record(new InMemoryMessageBus(hub), 'ch');
    await expect(publisher.publish('ch', message('p'))).resolves.toBe(1);
    expect(atB).toHaveLength(1);
  });

  it('replaces its listener when it subscribes to a channel again', async () => {
    const hub = new InMemoryHub();
    const a = new InMemoryMessageBus(hub);
    const b = new InMemoryMessageBus(hub);
    const old = await record(b, 'ch');
    const current = await record(b, 'ch');
    await expect(a.publish('ch', message('a'))).resolves.toBe(1);
    expect(old).toEqual([]);
    expect(current).toHaveLength(1);
  });

  describe('unsubscribe', () => {
    it('stops delivery to that bus only', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const b = new InMemoryMessageBus(hub);
      const c = new InMemoryMessageBus(hub);
      const atB = await record(b, 'ch');
      const atC = await record(c, 'ch');
      await b.unsubscribe('ch');
      await expect(a.publish('ch', message('a'))).resolves.toBe(1);
      expect(atB).toEqual([]);
      expect(atC).toHaveLength(1);
    });

    it('stops delivery on that channel only', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const b = new InMemoryMessageBus(hub);
      const one = await record(b, 'one');
      const two = await record(b, 'two');
      await b.unsubscribe('one');
      await a.publish('one', message('a'));
      await a.publish('two', message('a'));
      expect(one).toEqual([]);
      expect(two).toHaveLength(1);
    });

    it('removes the channel from the hub once its last subscriber leaves', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const b = new InMemoryMessageBus(hub);
      await record(a, 'ch');
      await record(b, 'ch');
      await a.unsubscribe('ch');
      expect(hub.subscribers.has('ch')).toBe(true);
      await b.unsubscribe('ch');
      expect(hub.subscribers.has('ch')).toBe(false);
    });

    it('is harmless for a channel it never subscribed to', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const b = new InMemoryMessageBus(hub);
      const atB = await record(b, 'ch');
      await expect(a.unsubscribe('ch')).resolves.toBeUndefined();
      await expect(a.unsubscribe('other')).resolves.toBeUndefined();
      await a.publish('ch', message('a'));
      expect(atB).toHaveLength(1);
    });

    it('can subscribe again afterwards', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const b = new InMemoryMessageBus(hub);
      await record(b, 'ch');
      await b.unsubscribe('ch');
      const again = await record(b, 'ch');
      await expect(a.publish('ch', message('a'))).resolves.toBe(1);
      expect(again).toHaveLength(1);
    });
  });

  describe('a listener that throws', () => {
    const logs = captureErrorLogs();

    it('does not cost the other subscribers their delivery, and is logs()', async () => {
      const hub = new InMemoryHub();
      const a = new InMemoryMessageBus(hub);
      const faulty = new InMemoryMessageBus(hub);
      const c = new InMemoryMessageBus(hub);
      const atA = await record(new InMemoryMessageBus(hub), 'ch');
      await faulty.subscribe('ch', () => {
        throw new Error('listener broke');
      });
      const atC = await record(c, 'ch');

      await expect(a.publish('ch', message('a'))).resolves.toBe(3);
      expect(atA).toHaveLength(1);
      expect(atC).toHaveLength(1);
      expect(logs()).toHaveLength(1);
      expect(JSON.stringify(logs()[0])).toContain('ch');
    });
  });
});
