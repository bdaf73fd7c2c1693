import { InMemoryMessageBus } from '../bus/in-memory-message-bus.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
} from '../gateway.options.js';
import { InMemoryHistoryStore } from '../history/in-memory-history-store.js';
import { RoomHistory } from '../history/room-history.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { GatewayError } from '../../protocol/gateway-error.js';
import { RoomAccess } from './room-access.js';
import { ALLOW_ALL_ROOMS } from './room-policy.js';
import { RecoveryService } from './recovery.service.js';
import { RoomsService } from './rooms.service.js';
import { InMemoryPresenceStore } from '../presence/in-memory-presence-store.js';
import { PresenceService } from '../presence/presence.service.js';

/** One instance with history in memory, its connections recorded. */
function instance(options: GatewayOptions = {}) {
  const local = new RecordingDelivery(['a', 'b', 'c']);
  const bus = new InMemoryMessageBus();
  const resolved = resolveGatewayOptions(options);
  const store = new InMemoryHistoryStore(bus, {
    memoryBytes: resolved.history.memoryBytes,
  });
  const history = new RoomHistory(store, resolved, 'i1');
  const events = new GatewayEvents();
  const rooms = new RoomsService(local, bus, 'i1', resolved, events, history);
  rooms.onModuleInit();
  const presence = new PresenceService(
    new InMemoryPresenceStore('i1'),
    local,
    bus,
    'i1',
    resolved,
    events,
  );
  const recovery = new RecoveryService(
    rooms,
    new RoomAccess(ALLOW_ALL_ROOMS),
    history,
    presence,
  );
  const offsets = (id: string) =>
    local
      .framesOf(id)
      .map((f) => (f as { data: { offset: number } }).data.offset);
  const publish = (room: string, data: unknown, from = 'c') =>
    rooms.publish({ room, from, data, exceptId: from });
  return { local, rooms, recovery, offsets, publish, store };
}

describe('RoomsService with history', () => {
  it('numbers a room message, pushes it with its offset, and says so in the receipt', async () => {
    const { rooms, local, publish } = instance();
    const joined = await rooms.join('a', 'lobby');
    expect(joined).toEqual({
      room: 'lobby',
      offset: 0,
      epoch: expect.any(String),
    });
    const receipt = await publish('lobby', { n: 1 });
    expect(receipt).toEqual({
      room: 'lobby',
      recipients: 1,
      instances: 1,
      offset: 1,
      epoch: joined.epoch,
    });
    expect(local.sent.get('a')).toEqual([
      '{"event":"message","data":{"room":"lobby","from":"c","data":{"n":1},"offset":1}}',
    ]);
  });

  it('recovers what a connection missed, once and in order, before its reply', async () => {
    const { rooms, offsets, publish, local } = instance();
    const epoch = (await rooms.join('a', 'lobby')).epoch!;
    await publish('lobby', 1);
    for (let n = 2; n <= 5; n++) await publish('lobby', n);
    const reply = await rooms.join('b', 'lobby', { offset: 1, epoch });
    expect(reply).toEqual({ room: 'lobby', offset: 5, epoch, recovered: true });
    expect(offsets('b')).toEqual([2, 3, 4, 5]);
    await publish('lobby', 6);
    expect(offsets('b')).toEqual([2, 3, 4, 5, 6]);
    expect(local.framesOf('a')).toHaveLength(6);
  });

  it('sends none of the missed messages when they are not all kept', async () => {
    const { rooms, offsets, publish } = instance({ history: { size: 3 } });
    const epoch = (await rooms.join('a', 'lobby')).epoch!;
    for (let n = 1; n <= 6; n++) await publish('lobby', n);
    expect(await rooms.join('b', 'lobby', { offset: 1, epoch })).toEqual({
      room: 'lobby',
      offset: 6,
      epoch,
      recovered: false,
    });
    expect(offsets('b')).toEqual([]);
  });

  it('answers recovered:false for another epoch, and for more than the recovery limit', async () => {
    const { rooms, offsets, publish } = instance({
      history: { recoveryLimit: 2 },
    });
    const epoch = (await rooms.join('a', 'lobby')).epoch!;
    for (let n = 1; n <= 3; n++) await publish('lobby', n);
    expect(
      await rooms.join('b', 'lobby', { offset: 1, epoch: 'other' }),
    ).toMatchObject({ recovered: false, offset: 3, epoch });
    rooms.leave('b', 'lobby');
    expect(await rooms.join('b', 'lobby', { offset: 0, epoch })).toMatchObject({
      recovered: false,
    });
    expect(offsets('b')).toEqual([]);
    rooms.leave('b', 'lobby');
    expect(await rooms.join('b', 'lobby', { offset: 1, epoch })).toMatchObject({
      recovered: true,
    });
    expect(offsets('b')).toEqual([2, 3]);
  });

  it('holds a recovery to maxBufferedBytes, shared by the rooms of one resume', async () => {
    const { rooms, recovery, local, publish } = instance({
      maxBufferedBytes: 4_096,
    });
    const positions = [];
    for (const room of ['r1', 'r2']) {
      positions.push({ room, since: await rooms.join('a', room) });
      for (let n = 0; n < 3; n++) await publish(room, 'x'.repeat(700));
    }
    // Each room's three messages are ~2.3 kB: one room fits, not both.
    const results = await recovery.resume(
      local.info('b')!,
      positions.map(({ room, since }) => ({
        room,
        since: { offset: since.offset!, epoch: since.epoch! },
      })),
      { maxRooms: 10, maxBufferedBytes: 4_096 },
    );
    expect(results.map((r) => (r as { recovered: boolean }).recovered)).toEqual(
      [true, false],
    );
    expect(local.framesOf('b')).toHaveLength(3);
  });

  it('refuses a resume naming a room twice or more rooms than a connection may be in', async () => {
    const { recovery, local } = instance({ maxRoomsPerConnection: 2 });
    const info = local.info('b')!;
    const limits = { maxRooms: 2, maxBufferedBytes: 1 << 20 };
    await expect(
      recovery.resume(info, [{ room: 'x' }, { room: 'x' }], limits),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST });
    await expect(
      recovery.resume(
        info,
        [{ room: 'x' }, { room: 'y' }, { room: 'z' }],
        limits,
      ),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST });
  });

  it('answers each room of a resume, one refusal not costing the others', async () => {
    const { recovery, local, rooms } = instance({ maxRoomsPerConnection: 1 });
    const results = await recovery.resume(
      local.info('b')!,
      [{ room: 'x' }, { room: 'y' }],
      { maxRooms: 2, maxBufferedBytes: 1 << 20 },
    );
    // One room per connection: whichever is joined second is refused.
    expect(results).toEqual([
      { room: 'x', offset: 0, epoch: expect.any(String) },
      {
        room: 'y',
        error: {
          code: ErrorCode.FORBIDDEN,
          message: 'a connection may be in at most 1 rooms',
        },
      },
    ]);
    expect(rooms.roomsOf('b')).toEqual(['x']);
  });

  it('pages history: after since, newest without, fitting the send budget', async () => {
    const { recovery, publish, local } = instance({ maxBufferedBytes: 2_048 });
    const principal = local.info('a')!.principal;
    let epoch = '';
    for (let n = 1; n <= 5; n++)
      epoch = (await publish('feed', 'y'.repeat(500))).epoch!;
    const after = await recovery.page(
      principal,
      'feed',
      { offset: 2, epoch },
      2,
    );
    expect(after.messages.map((m) => m.offset)).toEqual([3, 4]);
    expect(after).toMatchObject({ room: 'feed', offset: 5, epoch });
    const newest = await recovery.page(principal, 'feed', undefined, 2);
    expect(newest.messages.map((m) => m.offset)).toEqual([4, 5]);
    // ~560 bytes each: three fit in 2 KiB, not five.
    const capped = await recovery.page(
      principal,
      'feed',
      { offset: 0, epoch },
      5,
    );
    expect(capped.messages.map((m) => m.offset)).toEqual([1, 2, 3]);
    await expect(
      recovery.page(principal, 'feed', undefined, 5_000),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_REQUEST });
  });

  it('keeps rooms with history off as they were: no offset, no position', async () => {
    const { rooms, local, publish } = instance({
      history: {
        retention: (room) => (room === 'live' ? { size: 0 } : undefined),
      },
    });
    expect(await rooms.join('a', 'live')).toEqual({ room: 'live' });
    expect(await publish('live', 1)).toEqual({
      room: 'live',
      recipients: 1,
      instances: 1,
    });
    expect(local.sent.get('a')).toEqual([
      '{"event":"message","data":{"room":"live","from":"c","data":1}}',
    ]);
  });

  it('forgets a connection that leaves while it catches up', async () => {
    const { rooms, publish, local } = instance();
    const epoch = (await rooms.join('a', 'lobby')).epoch!;
    await publish('lobby', 1);
    const joining = rooms.join('b', 'lobby', { offset: 0, epoch });
    rooms.leaveAll('b');
    await joining.catch((err: GatewayError) => err);
    expect(local.framesOf('b')).toEqual([]);
    expect(rooms.memberCount('lobby')).toBe(1);
  });
});
