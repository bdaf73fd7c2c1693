import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import { resolveGatewayOptions } from '../gateway.options.js';
import { InMemoryHistoryStore } from '../history/in-memory-history-store.js';
import { RoomHistory } from '../history/room-history.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { RoomsService } from './rooms.service.js';

/** One instance on `hub`, with history of `size` messages per room (0: none). */
function instance(hub: InMemoryHub, id: string, size: number) {
  const local = new RecordingDelivery([`${id}-a`, `${id}-b`]);
  const bus = new InMemoryMessageBus(hub);
  const resolved = resolveGatewayOptions({ history: { size } });
  const history = new RoomHistory(
    new InMemoryHistoryStore(bus, {
      memoryBytes: resolved.history.memoryBytes,
    }),
    resolved,
    id,
  );
  const rooms = new RoomsService(
    local,
    bus,
    id,
    resolved,
    new GatewayEvents(),
    history,
  );
  rooms.onModuleInit();
  return { rooms, local };
}

const payloads = (frames: string[]) =>
  frames.map((f) => (JSON.parse(f) as { data: { data: unknown } }).data.data);

describe.each([
  ['without history', 0],
  ['with history', 100],
])('RoomsService.watch %s', (_name, size) => {
  it('hands a tap every message the room delivers here, local and remote, until it stops', async () => {
    const hub = new InMemoryHub();
    const a = instance(hub, 'i1', size);
    const b = instance(hub, 'i2', size);
    const seen: string[] = [];
    const stop = a.rooms.watch('lobby', (frame) => seen.push(frame));
    // Remote messages come through the bus subscription the tap made, with no member here.
    await b.rooms.join('i2-a', 'lobby');
    await vi.waitFor(() => expect(a.rooms.snapshot()).toHaveLength(1));
    await a.rooms.publish({ room: 'lobby', from: 'x', data: 1 });
    await b.rooms.publish({ room: 'lobby', from: 'y', data: { two: 2 } });
    await vi.waitFor(() => expect(payloads(seen)).toEqual([1, { two: 2 }]));
    expect(a.rooms.memberCount('lobby')).toBe(0);
    expect(a.rooms.snapshot()[0]).toMatchObject({
      name: 'lobby',
      members: 0,
      messages: 2,
    });
    stop();
    stop();
    // The room's state went with its last follower.
    expect(a.rooms.snapshot()).toEqual([]);
    await a.rooms.publish({ room: 'lobby', from: 'x', data: 3 });
    expect(seen).toHaveLength(2);
  });

  it('keeps the room for its members when the tap stops, and for the tap when they leave', async () => {
    const hub = new InMemoryHub();
    const a = instance(hub, 'i1', size);
    await a.rooms.join('i1-a', 'lobby');
    const seen: string[] = [];
    const stop = a.rooms.watch('lobby', (frame) => seen.push(frame));
    a.rooms.leave('i1-a', 'lobby');
    await a.rooms.publish({ room: 'lobby', from: 'x', data: 'still' });
    await vi.waitFor(() => expect(payloads(seen)).toEqual(['still']));
    await a.rooms.join('i1-b', 'lobby');
    stop();
    expect(a.rooms.snapshot()).toMatchObject([{ name: 'lobby', members: 1 }]);
  });
});

describe('RoomsService.snapshot', () => {
  it("tells a history room's offset and retention", async () => {
    const a = instance(new InMemoryHub(), 'i1', 10);
    await a.rooms.join('i1-a', 'news');
    await a.rooms.publish({ room: 'news', from: 'x', data: 1 });
    await a.rooms.publish({ room: 'news', from: 'x', data: 2 });
    await vi.waitFor(() =>
      expect(a.rooms.snapshot()).toEqual([
        {
          name: 'news',
          members: 1,
          messages: 2,
          history: { offset: 2, size: 10, ttlMs: expect.any(Number) as number },
        },
      ]),
    );
  });
});
