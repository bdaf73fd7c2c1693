import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import type { BusListener, MessageBus } from '../bus/message-bus.js';
import { resolveGatewayOptions } from '../gateway.options.js';
import type {
  AppendRequest,
  HistoryStore,
  ReadRequest,
} from '../history/history-store.js';
import { InMemoryHistoryStore } from '../history/in-memory-history-store.js';
import { RoomHistory } from '../history/room-history.js';
import type { GatewayMetrics } from '../telemetry/gateway-metrics.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { RoomsService } from './rooms.service.js';

/**
 * An in-memory bus whose incoming messages can be held back, as Redis pub/sub lags behind a
 * read on another connection: the store already has a message this instance has not heard of.
 */
class LaggingBus extends InMemoryMessageBus {
  private held: Array<() => void> | undefined;

  override subscribe(channel: string, listener: BusListener): Promise<void> {
    return super.subscribe(channel, (message) => {
      if (this.held) this.held.push(() => listener(message));
      else listener(message);
    });
  }

  pause(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const deliver of held) deliver();
  }
}

/** A history store that can be taken away, as Redis can: every call then rejects. */
class FlakyStore implements HistoryStore {
  down = false;

  constructor(private readonly store: HistoryStore) {}

  append(request: AppendRequest) {
    return this.down
      ? Promise.reject(new Error('store down'))
      : this.store.append(request);
  }

  read(request: ReadRequest) {
    return this.down
      ? Promise.reject(new Error('store down'))
      : this.store.read(request);
  }
}

/** The metrics the rooms report, recorded. */
function recordingMetrics() {
  const recoveries: Array<[outcome: string, messages: number]> = [];
  const metrics = {
    recovery: (outcome: string, messages: number) =>
      recoveries.push([outcome, messages]),
    historyAppended: () => undefined,
    fannedOut: () => undefined,
  } as unknown as GatewayMetrics;
  return { metrics, recoveries };
}

/** An instance of a cluster whose rooms share one history store. */
function instance(
  store: HistoryStore,
  bus: MessageBus,
  instanceId: string,
  ids: string[],
  metrics?: GatewayMetrics,
) {
  const options = resolveGatewayOptions({});
  const local = new RecordingDelivery(ids);
  const history = new RoomHistory(store, options, instanceId, metrics);
  const rooms = new RoomsService(
    local,
    bus,
    instanceId,
    options,
    new GatewayEvents(),
    history,
    metrics,
  );
  /** The offsets of the room messages a connection was sent, in order. */
  const offsets = (id: string) =>
    (local.sent.get(id) ?? []).map(
      (frame) =>
        (JSON.parse(frame) as { data: { offset: number } }).data.offset,
    );
  return { rooms, offsets };
}

describe('RoomsService with history: a joiner ahead of the bus', () => {
  it('sends a joining connection each message once and none before its position, when the bus lags behind the store', async () => {
    const hub = new InMemoryHub();
    const lagging = new LaggingBus(hub);
    const busOfB = new InMemoryMessageBus(hub);
    const store = new InMemoryHistoryStore(busOfB, { memoryBytes: 1 << 20 });
    const a = instance(store, lagging, 'A', ['member', 'recovering', 'plain']);
    const b = instance(store, busOfB, 'B', ['sender']);
    const publish = (data: number) =>
      b.rooms.publish({ room: 'r', from: 'sender', data });

    const { epoch } = await a.rooms.join('member', 'r');
    // B's messages are stored, but A hears of them only later.
    lagging.pause();
    await publish(1);
    await publish(2);
    expect(
      await a.rooms.join('recovering', 'r', { offset: 0, epoch: epoch! }),
    ).toEqual({ room: 'r', offset: 2, epoch, recovered: true });
    expect(await a.rooms.join('plain', 'r')).toEqual({
      room: 'r',
      offset: 2,
      epoch,
    });
    lagging.release();
    await publish(3);

    expect(a.offsets('member')).toEqual([1, 2, 3]);
    expect(a.offsets('recovering')).toEqual([1, 2, 3]);
    expect(a.offsets('plain')).toEqual([3]);
  });

  it('forgets a connection that leaves while it is ahead of the bus', async () => {
    const hub = new InMemoryHub();
    const lagging = new LaggingBus(hub);
    const busOfB = new InMemoryMessageBus(hub);
    const store = new InMemoryHistoryStore(busOfB, { memoryBytes: 1 << 20 });
    const a = instance(store, lagging, 'A', ['member', 'brief']);
    const b = instance(store, busOfB, 'B', ['sender']);
    const publish = (data: number) =>
      b.rooms.publish({ room: 'r', from: 'sender', data });

    await a.rooms.join('member', 'r');
    lagging.pause();
    await publish(1);
    await a.rooms.join('brief', 'r');
    expect(a.rooms.memberCount('r')).toBe(2);
    expect(a.rooms.leave('brief', 'r')).toBe(true);
    expect(a.rooms.memberCount('r')).toBe(1);
    lagging.release();
    await publish(2);

    expect(a.offsets('member')).toEqual([1, 2]);
    expect(a.offsets('brief')).toEqual([]);
  });

  it('counts every recovery the store could not answer as unavailable, once, whether or not the room was started here', async () => {
    const bus = new InMemoryMessageBus();
    const store = new FlakyStore(
      new InMemoryHistoryStore(bus, { memoryBytes: 1 << 20 }),
    );
    const { metrics, recoveries } = recordingMetrics();
    const a = instance(store, bus, 'A', ['member', 'warm', 'cold'], metrics);
    const { epoch } = await a.rooms.join('member', 'started');
    store.down = true;

    for (const [id, room] of [
      ['warm', 'started'],
      ['cold', 'never-joined'],
    ]) {
      const refused = await a.rooms
        .join(id, room, { offset: 0, epoch: epoch! })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(refused).toBeInstanceOf(GatewayError);
      expect((refused as GatewayError).code).toBe(ErrorCode.UNAVAILABLE);
    }
    // A plain join while the store is away is no recovery.
    expect(await a.rooms.join('cold', 'plain')).toEqual({ room: 'plain' });
    expect(recoveries).toEqual([
      ['unavailable', 0],
      ['unavailable', 0],
    ]);
  });
});
