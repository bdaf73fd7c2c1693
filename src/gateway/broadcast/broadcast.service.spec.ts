import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { BroadcastService } from './broadcast.service.js';
import { BROADCAST_CHANNEL, instanceChannel } from '../bus/channels.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import type { BusMessage } from '../bus/message-bus.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { UnavailableBus } from '../../../test/support/unavailable-bus.js';

/** One gateway instance: its local connections, its bus on the shared hub, its service. */
async function instance(hub: InMemoryHub, instanceId: string, ids: string[]) {
  const local = new RecordingDelivery(ids);
  const bus = new InMemoryMessageBus(hub);
  const service = new BroadcastService(local, bus, instanceId);
  await service.onModuleInit();
  return { local, bus, service };
}

describe('BroadcastService', () => {
  it('sends the push to every local client but the sender, in the protocol shape', async () => {
    const { local, service } = await instance(new InMemoryHub(), 'i1', [
      'i1-1',
      'i1-2',
      'i1-3',
    ]);
    const receipt = await service.broadcast({
      from: 'i1-1',
      data: { text: 'hi' },
      exceptId: 'i1-1',
    });

    expect(receipt).toEqual({ recipients: 2, instances: 1 });
    expect(local.sent.get('i1-1')).toEqual([]);
    const expected =
      '{"event":"broadcast","data":{"from":"i1-1","data":{"text":"hi"}}}';
    expect(local.sent.get('i1-2')).toEqual([expected]);
    expect(local.sent.get('i1-3')).toEqual([expected]);
  });

  it('serializes the frame once: every recipient gets the same string', async () => {
    const { local, service } = await instance(new InMemoryHub(), 'i1', [
      'a',
      'b',
    ]);
    await service.broadcast({ from: 'x', data: [1, 2], exceptId: 'x' });
    expect(local.calls).toHaveLength(1);
    expect(local.sent.get('a')?.[0]).toBe(local.sent.get('b')?.[0]);
  });

  it('sends an absent payload as data null', async () => {
    const { local, service } = await instance(new InMemoryHub(), 'i1', [
      'a',
      'b',
    ]);
    await service.broadcast({ from: 'a', data: undefined, exceptId: 'a' });
    expect(local.sent.get('b')).toEqual([
      '{"event":"broadcast","data":{"from":"a","data":null}}',
    ]);
  });

  it('lets server code broadcast to everyone under a name of its choosing', async () => {
    const { local, service } = await instance(new InMemoryHub(), 'i1', [
      'a',
      'b',
    ]);
    const receipt = await service.broadcast({
      from: 'server',
      data: 'maintenance',
    });
    expect(receipt.recipients).toBe(2);
    expect(local.framesOf('a')).toEqual([
      { event: 'broadcast', data: { from: 'server', data: 'maintenance' } },
    ]);
  });

  it('reaches the clients of the other instances, still excluding the sender', async () => {
    const hub = new InMemoryHub();
    const one = await instance(hub, 'i1', ['i1-1', 'i1-2']);
    const two = await instance(hub, 'i2', ['i2-1', 'i2-2']);
    const three = await instance(hub, 'i3', ['i3-1']);

    const receipt = await one.service.broadcast({
      from: 'i1-1',
      data: 'hello',
      exceptId: 'i1-1',
    });

    expect(receipt).toEqual({ recipients: 1, instances: 3 });
    const push = { event: 'broadcast', data: { from: 'i1-1', data: 'hello' } };
    expect(one.local.framesOf('i1-1')).toEqual([]);
    expect(one.local.framesOf('i1-2')).toEqual([push]);
    expect(two.local.framesOf('i2-1')).toEqual([push]);
    expect(two.local.framesOf('i2-2')).toEqual([push]);
    expect(three.local.framesOf('i3-1')).toEqual([push]);
    // The remote instances are told whom to leave out.
    expect(two.local.calls).toEqual([
      { frame: one.local.calls[0].frame, exceptId: 'i1-1' },
    ]);
  });

  it('publishes the serialized frame with its origin, the sender to exclude and sentAt', async () => {
    const hub = new InMemoryHub();
    const { service } = await instance(hub, 'i1', []);
    const peer = new InMemoryMessageBus(hub);
    const seen: BusMessage[] = [];
    await peer.subscribe(BROADCAST_CHANNEL, (m) => {
      seen.push(m);
    });
    const before = Date.now();
    await service.broadcast({ from: 'i1-7', data: { n: 1 }, exceptId: 'i1-7' });
    const after = Date.now();
    expect(seen).toHaveLength(1);
    const { sentAt, ...rest } = seen[0];
    expect(rest).toEqual({
      origin: 'i1',
      exceptId: 'i1-7',
      frame: '{"event":"broadcast","data":{"from":"i1-7","data":{"n":1}}}',
    });
    expect(sentAt).toBeGreaterThanOrEqual(before);
    expect(sentAt).toBeLessThanOrEqual(after);
  });

  it('gets its own broadcast from the bus no second time (the bus leaves the origin out)', async () => {
    const hub = new InMemoryHub();
    const one = await instance(hub, 'i1', ['i1-1', 'i1-2']);
    await instance(hub, 'i2', ['i2-1']);
    const receipt = await one.service.broadcast({
      from: 'i1-1',
      data: 'once',
      exceptId: 'i1-1',
    });
    expect(receipt.instances).toBe(2);
    expect(one.local.calls).toHaveLength(1);
    expect(one.local.sent.get('i1-2')).toHaveLength(1);
  });

  it('delivers a message of another origin to every local client but exceptId', async () => {
    const hub = new InMemoryHub();
    const { local } = await instance(hub, 'i1', ['i1-1', 'i1-2']);
    const elsewhere = new InMemoryMessageBus(hub);
    await expect(
      elsewhere.publish(BROADCAST_CHANNEL, {
        origin: 'i9',
        exceptId: 'i1-2',
        frame: 'from i9',
      }),
    ).resolves.toBe(1);
    expect(local.sent.get('i1-1')).toEqual(['from i9']);
    expect(local.sent.get('i1-2')).toEqual([]);
  });

  it('does not deliver before onModuleInit, nor after onApplicationShutdown', async () => {
    const hub = new InMemoryHub();
    const local = new RecordingDelivery(['i2-1']);
    const service = new BroadcastService(
      local,
      new InMemoryMessageBus(hub),
      'i2',
    );
    const sender = await instance(hub, 'i1', []);

    await sender.service.broadcast({
      from: 'i1-1',
      data: 'before',
      exceptId: 'i1-1',
    });
    expect(local.calls).toEqual([]);

    await service.onModuleInit();
    await sender.service.broadcast({
      from: 'i1-1',
      data: 'during',
      exceptId: 'i1-1',
    });
    await service.onApplicationShutdown();
    await sender.service.broadcast({
      from: 'i1-1',
      data: 'after',
      exceptId: 'i1-1',
    });

    expect(local.framesOf('i2-1')).toEqual([
      { event: 'broadcast', data: { from: 'i1-1', data: 'during' } },
    ]);
  });

  it('counts only instances that are subscribed', async () => {
    const hub = new InMemoryHub();
    const one = await instance(hub, 'i1', ['a']);
    const two = await instance(hub, 'i2', ['b']);
    expect(
      (await one.service.broadcast({ from: 'a', data: 1, exceptId: 'a' }))
        .instances,
    ).toBe(2);
    await two.service.onApplicationShutdown();
    expect(
      (await one.service.broadcast({ from: 'a', data: 2, exceptId: 'a' }))
        .instances,
    ).toBe(1);
  });

  it('answers UNAVAILABLE when the bus rejects, after the local clients got the push', async () => {
    const local = new RecordingDelivery(['i1-1', 'i1-2', 'i1-3']);
    const bus = new UnavailableBus();
    const service = new BroadcastService(local, bus, 'i1');
    await service.onModuleInit();

    let error: unknown;
    try {
      await service.broadcast({ from: 'i1-1', data: 'hi', exceptId: 'i1-1' });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((error as GatewayError).message).toContain('2 local client(s)');
    expect((error as GatewayError).message).toContain(
      'the message bus is unavailable',
    );
    // The bus's own error (Redis's address, say) stays in the logs.
    expect((error as GatewayError).message).not.toContain(
      'connection is closed',
    );
    expect(local.framesOf('i1-2')).toEqual([
      { event: 'broadcast', data: { from: 'i1-1', data: 'hi' } },
    ]);
    expect(local.framesOf('i1-3')).toHaveLength(1);
    expect(bus.published).toHaveLength(1);
  });

  describe('sendToConnection', () => {
    it('sends a local connection the frame directly, and nothing goes on the bus', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', ['i1-1', 'i1-2']);
      const two = await instance(hub, 'i2', ['i2-1']);

      await expect(
        one.service.sendToConnection('i1-2', 'notice', { text: 'hi' }),
      ).resolves.toBe(true);

      expect(one.local.sent.get('i1-2')).toEqual([
        '{"event":"notice","data":{"text":"hi"}}',
      ]);
      expect(one.local.sent.get('i1-1')).toEqual([]);
      expect(two.local.sent.get('i2-1')).toEqual([]);
      expect(two.local.eachCalls).toEqual([]);
    });

    it('does not touch the bus for a local connection, even while it is down', async () => {
      const local = new RecordingDelivery(['i1-1']);
      const bus = new UnavailableBus();
      const service = new BroadcastService(local, bus, 'i1');
      await expect(service.sendToConnection('i1-1', 'x', 1)).resolves.toBe(
        true,
      );
      expect(bus.published).toEqual([]);
    });

    it('sends an absent payload as data null', async () => {
      const { local, service } = await instance(new InMemoryHub(), 'i1', [
        'i1-1',
      ]);
      await service.sendToConnection('i1-1', 'ping', undefined);
      expect(local.sent.get('i1-1')).toEqual(['{"event":"ping","data":null}']);
    });

    it('reaches a connection of another instance, and only that one', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', ['i1-1']);
      const two = await instance(hub, 'i2', ['i2-1', 'i2-2']);
      const three = await instance(hub, 'i3', ['i3-1', 'i3-2']);

      await expect(
        one.service.sendToConnection('i2-2', 'notice', [1, 'two']),
      ).resolves.toBe(true);

      expect(two.local.sent.get('i2-2')).toEqual([
        '{"event":"notice","data":[1,"two"]}',
      ]);
      expect(two.local.sent.get('i2-1')).toEqual([]);
      expect(three.local.sent.get('i3-1')).toEqual([]);
      expect(three.local.sent.get('i3-2')).toEqual([]);
      expect(one.local.sent.get('i1-1')).toEqual([]);
      // Not a broadcast anywhere.
      expect([
        ...one.local.calls,
        ...two.local.calls,
        ...three.local.calls,
      ]).toEqual([]);
    });

    it('publishes on the instance’s own channel, saying whom it is for', async () => {
      const hub = new InMemoryHub();
      const { service } = await instance(hub, 'i1', []);
      const peer = new InMemoryMessageBus(hub);
      const seen: BusMessage[] = [];
      await peer.subscribe(instanceChannel('i2'), (m) => {
        seen.push(m);
      });
      const before = Date.now();
      await service.sendToConnection('i2-9', 'notice', { n: 1 });
      const after = Date.now();

      expect(instanceChannel('i2')).toBe('instance:i2');
      expect(seen).toHaveLength(1);
      const { sentAt, ...rest } = seen[0];
      expect(rest).toEqual({
        origin: 'i1',
        to: 'i2-9',
        frame: '{"event":"notice","data":{"n":1}}',
      });
      expect(sentAt).toBeGreaterThanOrEqual(before);
      expect(sentAt).toBeLessThanOrEqual(after);
    });

    it('finds the instance by the last dash, so instance ids may contain dashes', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'eu-west-1', ['eu-west-1-1']);
      const two = await instance(hub, 'eu-west-2', ['eu-west-2-1']);
      await expect(
        two.service.sendToConnection('eu-west-1-1', 'x', 'y'),
      ).resolves.toBe(true);
      expect(one.local.framesOf('eu-west-1-1')).toEqual([
        { event: 'x', data: 'y' },
      ]);
    });

    it('resolves false for an instance nobody runs', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', ['i1-1']);
      const two = await instance(hub, 'i2', ['i2-1']);
      await expect(
        one.service.sendToConnection('i9-1', 'notice', 'lost'),
      ).resolves.toBe(false);
      expect(two.local.sent.get('i2-1')).toEqual([]);
      expect(two.local.eachCalls).toEqual([]);
    });

    it('resolves false once the other instance stopped listening', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', []);
      const two = await instance(hub, 'i2', ['i2-1']);
      await two.service.onApplicationShutdown();
      await expect(one.service.sendToConnection('i2-1', 'x', 1)).resolves.toBe(
        false,
      );
      expect(two.local.sent.get('i2-1')).toEqual([]);
    });

    it('resolves true when the instance listens, though its connection is gone', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', []);
      const two = await instance(hub, 'i2', ['i2-1']);
      await expect(one.service.sendToConnection('i2-7', 'x', 1)).resolves.toBe(
        true,
      );
      expect(two.local.sent.get('i2-1')).toEqual([]);
    });

    it.each([
      ['an id without a dash', 'nodash'],
      ['an id that starts with its only dash', '-5'],
      ['an empty id', ''],
      ['a connection of this instance that is gone', 'i1-99'],
    ])('resolves false without publishing for %s', async (_, id) => {
      const local = new RecordingDelivery(['i1-1']);
      // A publish would reject: resolving false proves none was attempted.
      const bus = new UnavailableBus();
      const service = new BroadcastService(local, bus, 'i1');
      await expect(service.sendToConnection(id, 'x', 1)).resolves.toBe(false);
      expect(bus.published).toEqual([]);
      expect(local.sent.get('i1-1')).toEqual([]);
    });

    it('answers UNAVAILABLE when the bus cannot take the message', async () => {
      const local = new RecordingDelivery(['i1-1']);
      const bus = new UnavailableBus('Redis at 10.0.0.5:6379 is away');
      const service = new BroadcastService(local, bus, 'i1');

      const error = await service.sendToConnection('i2-3', 'notice', 'hi').then(
        () => undefined,
        (err: unknown) => err,
      );

      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe(ErrorCode.UNAVAILABLE);
      expect((error as GatewayError).message).toContain('i2');
      expect((error as GatewayError).message).toContain(
        'the message bus is unavailable',
      );
      expect((error as GatewayError).message).not.toContain('10.0.0.5');
      expect(bus.published).toHaveLength(1);
      expect(bus.published[0].channel).toBe('instance:i2');
    });

    it('ignores a message on its instance channel that names no connection', async () => {
      const hub = new InMemoryHub();
      const { local } = await instance(hub, 'i1', ['i1-1', 'i1-2']);
      const elsewhere = new InMemoryMessageBus(hub);
      await expect(
        elsewhere.publish(instanceChannel('i1'), { origin: 'i9', frame: 'f' }),
      ).resolves.toBe(1);
      expect(local.sent.get('i1-1')).toEqual([]);
      expect(local.sent.get('i1-2')).toEqual([]);
    });

    it('keeps the order of many messages to one remote connection', async () => {
      const hub = new InMemoryHub();
      const one = await instance(hub, 'i1', []);
      const two = await instance(hub, 'i2', ['i2-1']);
      await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          one.service.sendToConnection('i2-1', 'seq', n),
        ),
      );
      expect(two.local.framesOf('i2-1')).toEqual(
        Array.from({ length: 200 }, (_, n) => ({ event: 'seq', data: n })),
      );
    });
  });
});
