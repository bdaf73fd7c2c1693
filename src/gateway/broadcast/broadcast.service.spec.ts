import { ErrorCode } from '../protocol/error-codes.js';
import { GatewayError } from '../protocol/gateway-error.js';
import { BROADCAST_CHANNEL, BroadcastService } from './broadcast.service.js';
import { InMemoryHub, InMemoryMessageBus } from './in-memory-message-bus.js';
import type { LocalDelivery } from './local-delivery.js';
import type { BusListener, BusMessage, MessageBus } from './message-bus.js';
import type { ConnectionInfo } from '../protocol/connection.js';

/** The connections of one instance, as ids; records every frame each one was sent. */
class RecordingDelivery implements LocalDelivery {
  readonly sent = new Map<string, string[]>();
  readonly calls: { frame: string; exceptId?: string }[] = [];

  constructor(ids: string[]) {
    for (const id of ids) this.sent.set(id, []);
  }

  sendToAll(frame: string, exceptId?: string): number {
    this.calls.push({ frame, exceptId });
    let n = 0;
    for (const [id, frames] of this.sent) {
      if (id === exceptId) continue;
      frames.push(frame);
      n++;
    }
    return n;
  }

  info(connectionId: string): ConnectionInfo | undefined {
    return this.sent.has(connectionId)
      ? { id: connectionId, principal: { subject: 'test', scopes: [] }, remoteAddress: '127.0.0.1', openedAt: 0 }
      : undefined;
  }

  sendToEach(connectionIds: Iterable<string>, frame: string, exceptId?: string): number {
    let n = 0;
    for (const id of connectionIds) if (id !== exceptId && this.sendTo(id, frame)) n++;
    return n;
  }

  sendTo(connectionId: string, frame: string): boolean {
    const frames = this.sent.get(connectionId);
    frames?.push(frame);
    return frames !== undefined;
  }

  framesOf(id: string): unknown[] {
    return (this.sent.get(id) ?? []).map((f) => JSON.parse(f) as unknown);
  }
}

/** A bus that accepts subscriptions but cannot publish: Redis gone away. */
class DownBus implements MessageBus {
  readonly published: BusMessage[] = [];
  publish(_channel: string, message: BusMessage): Promise<number> {
    this.published.push(message);
    return Promise.reject(new Error('connection is closed'));
  }
  subscribe(_channel: string, _listener: BusListener): Promise<void> {
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
  isReady(): boolean {
    return false;
  }
}

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

  it('publishes the serialized frame with its origin and the sender to exclude', async () => {
    const hub = new InMemoryHub();
    const { service } = await instance(hub, 'i1', []);
    const peer = new InMemoryMessageBus(hub);
    const seen: BusMessage[] = [];
    await peer.subscribe(BROADCAST_CHANNEL, (m) => {
      seen.push(m);
    });
    await service.broadcast({ from: 'i1-7', data: { n: 1 }, exceptId: 'i1-7' });
    expect(seen).toEqual([
      {
        origin: 'i1',
        exceptId: 'i1-7',
        frame: '{"event":"broadcast","data":{"from":"i1-7","data":{"n":1}}}',
      },
    ]);
  });

  it('ignores a message of its own origin coming back from the bus', async () => {
    const hub = new InMemoryHub();
    const { local } = await instance(hub, 'i1', ['i1-1', 'i1-2']);
    const elsewhere = new InMemoryMessageBus(hub);
    await elsewhere.publish(BROADCAST_CHANNEL, {
      origin: 'i1',
      exceptId: 'i1-1',
      frame: 'echoed back',
    });
    expect(local.calls).toEqual([]);
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

  it('does not deliver before onModuleInit, nor after onModuleDestroy', async () => {
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
    await service.onModuleDestroy();
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
    await two.service.onModuleDestroy();
    expect(
      (await one.service.broadcast({ from: 'a', data: 2, exceptId: 'a' }))
        .instances,
    ).toBe(1);
  });

  it('answers UNAVAILABLE when the bus rejects, after the local clients got the push', async () => {
    const local = new RecordingDelivery(['i1-1', 'i1-2', 'i1-3']);
    const bus = new DownBus();
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
    expect((error as GatewayError).message).toContain('connection is closed');
    expect(local.framesOf('i1-2')).toEqual([
      { event: 'broadcast', data: { from: 'i1-1', data: 'hi' } },
    ]);
    expect(local.framesOf('i1-3')).toHaveLength(1);
    expect(bus.published).toHaveLength(1);
  });
});
