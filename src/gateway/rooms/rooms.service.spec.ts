import { captureErrorLogs } from '../../../test/support/capture-error-logs.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import type { BusListener, BusMessage } from '../bus/message-bus.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
} from '../gateway.options.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { UnavailableBus } from '../../../test/support/unavailable-bus.js';
import { ROOM_NAME_RULE } from './room-name.js';
import { roomChannel } from '../bus/channels.js';
import { RoomsService } from './rooms.service.js';
import { InMemoryHistoryStore } from '../history/in-memory-history-store.js';
import { RoomHistory } from '../history/room-history.js';
import type { MessageBus } from '../bus/message-bus.js';
import type { LocalDelivery } from '../connections/local-delivery.js';

/**
 * A rooms service as the module builds it. These tests are about membership and fan-out, so
 * rooms keep no history unless the options say so (rooms.history.spec.ts is about history).
 */
function roomsService(
  local: LocalDelivery,
  bus: MessageBus,
  instanceId: string,
  options: GatewayOptions,
  events: GatewayEvents,
): RoomsService {
  const resolved = resolveGatewayOptions({
    ...options,
    history: { size: 0, ...options.history },
  });
  const history = new RoomHistory(
    new InMemoryHistoryStore(bus, {
      memoryBytes: resolved.history.memoryBytes,
    }),
    resolved,
    instanceId,
  );
  return new RoomsService(local, bus, instanceId, resolved, events, history);
}

/** A real in-memory bus that also counts what it was asked to do. */
class CountingBus extends InMemoryMessageBus {
  readonly subscribes: string[] = [];
  readonly unsubscribes: string[] = [];

  override subscribe(channel: string, listener: BusListener): Promise<void> {
    this.subscribes.push(channel);
    return super.subscribe(channel, listener);
  }

  override unsubscribe(channel: string): Promise<void> {
    this.unsubscribes.push(channel);
    return super.unsubscribe(channel);
  }
}

/** One gateway instance: its connections, its bus on the hub, its events and its rooms. */
function instance(
  hub: InMemoryHub,
  instanceId: string,
  ids: string[],
  options: GatewayOptions = {},
) {
  const local = new RecordingDelivery(ids);
  const bus = new CountingBus(hub);
  const events = new GatewayEvents();
  const rooms = roomsService(local, bus, instanceId, options, events);
  rooms.onModuleInit();
  const joined: [string, string][] = [];
  const left: [string, string][] = [];
  events.on('joined', (connection, room) => joined.push([connection.id, room]));
  events.on('left', (connection, room) => left.push([connection.id, room]));
  /** A connection closes, as the adapter reports it: event first, then out of the registry. */
  const disconnect = (id: string) => {
    const info = local.info(id);
    if (!info) throw new Error(`no connection ${id} to disconnect`);
    events.emit('disconnected', info, { code: 1000, reason: '' });
    local.disconnect(id);
  };
  /** Whether this instance's bus listens on the room's channel. */
  const subscribed = (room: string) =>
    hub.subscribers.get(roomChannel(room))?.has(bus) ?? false;
  return {
    local,
    bus,
    events,
    rooms,
    joined,
    left,
    disconnect,
    subscribed,
  };
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('did not reject');
}

function expectGatewayError(error: unknown, code: ErrorCode): GatewayError {
  expect(error).toBeInstanceOf(GatewayError);
  expect((error as GatewayError).code).toBe(code);
  return error as GatewayError;
}

const message = (room: string, from: string, data: unknown) => ({
  event: 'message',
  data: { room, from, data },
});

/** Room channels present on the hub at all. */
const roomChannels = (hub: InMemoryHub) =>
  [...hub.subscribers.keys()].filter((c) => c.startsWith('room:'));

describe('RoomsService', () => {
  describe('join and leave', () => {
    it('names the bus channel of a room room:<name>', () => {
      expect(roomChannel('lobby')).toBe('room:lobby');
    });

    it('starts with no rooms', () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      expect(rooms.roomCount).toBe(0);
      expect(rooms.memberCount('lobby')).toBe(0);
      expect(rooms.roomsOf('i1-1')).toEqual([]);
    });

    it('records a membership on both sides: the room and the connection', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1', 'i1-2']);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-1', 'games');
      await rooms.join('i1-2', 'lobby');

      expect(rooms.roomCount).toBe(2);
      expect(rooms.memberCount('lobby')).toBe(2);
      expect(rooms.memberCount('games')).toBe(1);
      expect(rooms.roomsOf('i1-1').sort()).toEqual(['games', 'lobby']);
      expect(rooms.roomsOf('i1-2')).toEqual(['lobby']);
    });

    it('hands out a copy of a connection’s rooms', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      await rooms.join('i1-1', 'lobby');
      rooms.roomsOf('i1-1').push('injected');
      expect(rooms.roomsOf('i1-1')).toEqual(['lobby']);
    });

    it('changes nothing when a connection joins a room twice', async () => {
      const hub = new InMemoryHub();
      const { rooms, bus, joined } = instance(hub, 'i1', ['i1-1']);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-1', 'lobby');

      expect(rooms.memberCount('lobby')).toBe(1);
      expect(rooms.roomsOf('i1-1')).toEqual(['lobby']);
      expect(joined).toEqual([['i1-1', 'lobby']]);
      expect(bus.subscribes).toEqual(['room:lobby']);
      // One leave is enough to be out.
      expect(rooms.leave('i1-1', 'lobby')).toBe(true);
      expect(rooms.roomCount).toBe(0);
    });

    it('leaves a room: true for a member, then false', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1', 'i1-2']);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-2', 'lobby');

      expect(rooms.leave('i1-1', 'lobby')).toBe(true);
      expect(rooms.roomsOf('i1-1')).toEqual([]);
      expect(rooms.memberCount('lobby')).toBe(1);
      expect(rooms.leave('i1-1', 'lobby')).toBe(false);
      expect(rooms.memberCount('lobby')).toBe(1);
    });

    it('answers false for a leave by a non-member, changing nothing', async () => {
      const { rooms, left } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
        'i1-2',
      ]);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-2', 'games');

      expect(rooms.leave('i1-2', 'lobby')).toBe(false);
      expect(rooms.leave('i1-1', 'nowhere')).toBe(false);
      expect(rooms.leave('i1-99', 'lobby')).toBe(false);

      expect(rooms.roomsOf('i1-1')).toEqual(['lobby']);
      expect(rooms.roomsOf('i1-2')).toEqual(['games']);
      expect(rooms.memberCount('lobby')).toBe(1);
      expect(left).toEqual([]);
    });

    it('leaves every room at once with leaveAll', async () => {
      const hub = new InMemoryHub();
      const { rooms, subscribed } = instance(hub, 'i1', ['i1-1', 'i1-2']);
      for (const room of ['a', 'b', 'c']) await rooms.join('i1-1', room);
      await rooms.join('i1-2', 'b');

      rooms.leaveAll('i1-1');

      expect(rooms.roomsOf('i1-1')).toEqual([]);
      expect(rooms.roomCount).toBe(1);
      expect(rooms.memberCount('b')).toBe(1);
      expect(subscribed('a')).toBe(false);
      expect(subscribed('b')).toBe(true);
      expect(subscribed('c')).toBe(false);
      // Harmless for a connection in no room, or unknown.
      rooms.leaveAll('i1-1');
      rooms.leaveAll('i1-42');
      expect(rooms.memberCount('b')).toBe(1);
    });

    it('refuses a join for a connection this instance does not have', async () => {
      const hub = new InMemoryHub();
      const { rooms, joined } = instance(hub, 'i1', ['i1-1']);
      const error = expectGatewayError(
        await rejectionOf(rooms.join('i1-404', 'lobby')),
        ErrorCode.BAD_REQUEST,
      );
      expect(error.message).toContain('i1-404');
      expect(rooms.roomCount).toBe(0);
      expect(rooms.roomsOf('i1-404')).toEqual([]);
      expect(joined).toEqual([]);
      expect(roomChannels(hub)).toEqual([]);
    });

    it('refuses a join for a connection that has gone', async () => {
      const { rooms, disconnect } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      disconnect('i1-1');
      expectGatewayError(
        await rejectionOf(rooms.join('i1-1', 'lobby')),
        ErrorCode.BAD_REQUEST,
      );
      expect(rooms.roomCount).toBe(0);
    });
  });

  describe('room names', () => {
    const invalid: [string, unknown][] = [
      ['an empty name', ''],
      ['a name with a space', 'the lobby'],
      ['a name of 129 characters', 'x'.repeat(129)],
      ['a non-ASCII name', 'café'],
      ['a name with a pipe', 'a|b'],
      ['a name with a newline', 'a\nb'],
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
    ];

    it.each(invalid)(
      'refuses a join to %s with BAD_REQUEST and details',
      async (_, room) => {
        const hub = new InMemoryHub();
        const { rooms, joined } = instance(hub, 'i1', ['i1-1']);
        const error = expectGatewayError(
          await rejectionOf(rooms.join('i1-1', room as string)),
          ErrorCode.BAD_REQUEST,
        );
        expect(error.details).toEqual([
          { field: 'room', message: ROOM_NAME_RULE },
        ]);
        expect(rooms.roomCount).toBe(0);
        expect(rooms.roomsOf('i1-1')).toEqual([]);
        expect(joined).toEqual([]);
        expect(roomChannels(hub)).toEqual([]);
      },
    );

    it.each(invalid)('refuses a leave of %s with BAD_REQUEST', (_, room) => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      const error = expectGatewayError(
        thrownBy(() => rooms.leave('i1-1', room as string)),
        ErrorCode.BAD_REQUEST,
      );
      expect(error.details).toEqual([
        { field: 'room', message: ROOM_NAME_RULE },
      ]);
    });

    it.each(invalid)(
      'refuses a publish to %s with BAD_REQUEST, sending nothing',
      async (_, room) => {
        const hub = new InMemoryHub();
        const { rooms, local } = instance(hub, 'i1', ['i1-1']);
        const peer = new InMemoryMessageBus(hub);
        const seen: BusMessage[] = [];
        await peer.subscribe(roomChannel(String(room)), (m) => {
          seen.push(m);
        });
        const error = expectGatewayError(
          await rejectionOf(
            rooms.publish({ room: room as string, from: 'i1-1', data: 1 }),
          ),
          ErrorCode.BAD_REQUEST,
        );
        expect(error.details).toEqual([
          { field: 'room', message: ROOM_NAME_RULE },
        ]);
        expect(local.eachCalls).toEqual([]);
        expect(seen).toEqual([]);
      },
    );

    it('accepts the longest name and every allowed punctuation', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      const longest = 'r'.repeat(128);
      const punctuated = 'team_1.chat:general@eu/west-2';
      await rooms.join('i1-1', longest);
      await rooms.join('i1-1', punctuated);
      expect(rooms.roomsOf('i1-1').sort()).toEqual(
        [longest, punctuated].sort(),
      );
    });
  });

  describe('the room limit', () => {
    it('refuses a join past maxRoomsPerConnection with FORBIDDEN, leaving no trace', async () => {
      const hub = new InMemoryHub();
      const { rooms, joined, subscribed } = instance(hub, 'i1', ['i1-1'], {
        maxRoomsPerConnection: 3,
      });
      for (const room of ['a', 'b', 'c']) await rooms.join('i1-1', room);

      const error = expectGatewayError(
        await rejectionOf(rooms.join('i1-1', 'd')),
        ErrorCode.FORBIDDEN,
      );
      expect(error.message).toContain('3');
      expect(rooms.roomsOf('i1-1').sort()).toEqual(['a', 'b', 'c']);
      expect(rooms.memberCount('d')).toBe(0);
      expect(rooms.roomCount).toBe(3);
      expect(subscribed('d')).toBe(false);
      expect(joined.map(([, room]) => room)).toEqual(['a', 'b', 'c']);
    });

    it('still lets a connection at the limit join a room it is in', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1'], {
        maxRoomsPerConnection: 2,
      });
      await rooms.join('i1-1', 'a');
      await rooms.join('i1-1', 'b');
      await expect(rooms.join('i1-1', 'a')).resolves.toEqual({ room: 'a' });
    });

    it('frees a place when the connection leaves a room', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1'], {
        maxRoomsPerConnection: 2,
      });
      await rooms.join('i1-1', 'a');
      await rooms.join('i1-1', 'b');
      rooms.leave('i1-1', 'a');
      await rooms.join('i1-1', 'c');
      expect(rooms.roomsOf('i1-1').sort()).toEqual(['b', 'c']);
    });

    it('counts per connection', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1', 'i1-2'], {
        maxRoomsPerConnection: 1,
      });
      await rooms.join('i1-1', 'a');
      await rooms.join('i1-2', 'b');
      await rooms.join('i1-2', 'b');
      expectGatewayError(
        await rejectionOf(rooms.join('i1-2', 'a')),
        ErrorCode.FORBIDDEN,
      );
      expect(rooms.memberCount('a')).toBe(1);
    });

    it('defaults to 100 rooms', async () => {
      const { rooms } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      for (let n = 0; n < 100; n++) await rooms.join('i1-1', `room-${n}`);
      expectGatewayError(
        await rejectionOf(rooms.join('i1-1', 'room-100')),
        ErrorCode.FORBIDDEN,
      );
      expect(rooms.roomsOf('i1-1')).toHaveLength(100);
    });
  });

  describe('bus subscriptions', () => {
    it('subscribes to the room’s channel on the first local member only', async () => {
      const hub = new InMemoryHub();
      const { rooms, bus, subscribed } = instance(hub, 'i1', ['i1-1', 'i1-2']);
      expect(subscribed('lobby')).toBe(false);
      await rooms.join('i1-1', 'lobby');
      expect(subscribed('lobby')).toBe(true);
      await rooms.join('i1-2', 'lobby');
      expect(bus.subscribes).toEqual(['room:lobby']);
    });

    it('unsubscribes when the last local member leaves, not before', async () => {
      const hub = new InMemoryHub();
      const { rooms, bus, subscribed } = instance(hub, 'i1', ['i1-1', 'i1-2']);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-2', 'lobby');

      rooms.leave('i1-1', 'lobby');
      expect(subscribed('lobby')).toBe(true);
      expect(bus.unsubscribes).toEqual([]);

      rooms.leave('i1-2', 'lobby');
      expect(subscribed('lobby')).toBe(false);
      expect(bus.unsubscribes).toEqual(['room:lobby']);
      expect(hub.subscribers.has('room:lobby')).toBe(false);
      expect(rooms.roomCount).toBe(0);
    });

    it('unsubscribes when the last member disconnects', async () => {
      const hub = new InMemoryHub();
      const { rooms, disconnect, subscribed } = instance(hub, 'i1', ['i1-1']);
      await rooms.join('i1-1', 'a');
      await rooms.join('i1-1', 'b');
      disconnect('i1-1');
      expect(subscribed('a')).toBe(false);
      expect(subscribed('b')).toBe(false);
      expect(roomChannels(hub)).toEqual([]);
    });

    it('keeps the other instances’ subscriptions when its own goes', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1']);
      const two = instance(hub, 'i2', ['i2-1']);
      await one.rooms.join('i1-1', 'lobby');
      await two.rooms.join('i2-1', 'lobby');
      one.rooms.leave('i1-1', 'lobby');
      expect(one.subscribed('lobby')).toBe(false);
      expect(two.subscribed('lobby')).toBe(true);
    });

    it('subscribes again when an emptied room gets a member back', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1']);
      const two = instance(hub, 'i2', ['i2-1']);
      await two.rooms.join('i2-1', 'lobby');
      two.rooms.leave('i2-1', 'lobby');
      await two.rooms.join('i2-1', 'lobby');
      expect(two.bus.subscribes).toEqual(['room:lobby', 'room:lobby']);

      await one.rooms.publish({ room: 'lobby', from: 'i1-1', data: 'back' });
      expect(two.local.framesOf('i2-1')).toEqual([
        message('lobby', 'i1-1', 'back'),
      ]);
    });
  });

  describe('publish', () => {
    it('publishes the frame with its origin, the sender to exclude and sentAt, as broadcasts do', async () => {
      const hub = new InMemoryHub();
      const { rooms } = instance(hub, 'i1', ['i1-1']);
      const seen: BusMessage[] = [];
      await new InMemoryMessageBus(hub).subscribe(roomChannel('lobby'), (m) => {
        seen.push(m);
      });
      const before = Date.now();
      await rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 1,
        exceptId: 'i1-1',
      });
      const after = Date.now();
      expect(seen).toHaveLength(1);
      const { sentAt, ...rest } = seen[0];
      expect(rest).toEqual({
        origin: 'i1',
        exceptId: 'i1-1',
        frame: JSON.stringify({
          event: 'message',
          data: { room: 'lobby', from: 'i1-1', data: 1 },
        }),
      });
      expect(sentAt).toBeGreaterThanOrEqual(before);
      expect(sentAt).toBeLessThanOrEqual(after);
    });

    it('sends every member but the sender the exact message frame, and nobody else', async () => {
      const { rooms, local } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
        'i1-2',
        'i1-3',
        'i1-4',
      ]);
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-2', 'lobby');
      await rooms.join('i1-3', 'lobby');
      await rooms.join('i1-4', 'games');

      const receipt = await rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: { text: 'hi' },
        exceptId: 'i1-1',
      });

      expect(receipt).toEqual({ room: 'lobby', recipients: 2, instances: 1 });
      const frame =
        '{"event":"message","data":{"room":"lobby","from":"i1-1","data":{"text":"hi"}}}';
      expect(local.sent.get('i1-1')).toEqual([]);
      expect(local.sent.get('i1-2')).toEqual([frame]);
      expect(local.sent.get('i1-3')).toEqual([frame]);
      expect(local.sent.get('i1-4')).toEqual([]);
    });

    it('sends an absent payload as data null', async () => {
      const { rooms, local } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
        'i1-2',
      ]);
      await rooms.join('i1-2', 'lobby');
      await rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: undefined,
        exceptId: 'i1-1',
      });
      expect(local.sent.get('i1-2')).toEqual([
        '{"event":"message","data":{"room":"lobby","from":"i1-1","data":null}}',
      ]);
    });

    it('keeps falsy payloads as they are', async () => {
      const { rooms, local } = instance(new InMemoryHub(), 'i1', ['i1-1']);
      await rooms.join('i1-1', 'lobby');
      for (const data of [0, false, '', null]) {
        await rooms.publish({ room: 'lobby', from: 'server', data });
      }
      expect(local.framesOf('i1-1')).toEqual(
        [0, false, '', null].map((d) => message('lobby', 'server', d)),
      );
    });

    it('serializes the frame once: every member gets the same string', async () => {
      const { rooms, local } = instance(new InMemoryHub(), 'i1', [
        'a-1',
        'a-2',
      ]);
      await rooms.join('a-1', 'r');
      await rooms.join('a-2', 'r');
      await rooms.publish({ room: 'r', from: 'x', data: [1, 2] });
      expect(local.eachCalls).toHaveLength(1);
      expect(local.sent.get('a-1')?.[0]).toBe(local.sent.get('a-2')?.[0]);
    });

    it('lets a non-member, or server code, publish to every member', async () => {
      const { rooms, local } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
        'i1-2',
        'i1-3',
      ]);
      await rooms.join('i1-2', 'lobby');
      await rooms.join('i1-3', 'lobby');

      const fromOutsider = await rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 1,
        exceptId: 'i1-1',
      });
      const fromServer = await rooms.publish({
        room: 'lobby',
        from: 'server',
        data: 2,
      });

      expect(fromOutsider.recipients).toBe(2);
      expect(fromServer.recipients).toBe(2);
      expect(local.framesOf('i1-1')).toEqual([]);
      expect(local.framesOf('i1-2')).toEqual([
        message('lobby', 'i1-1', 1),
        message('lobby', 'server', 2),
      ]);
    });

    it('reaches nobody in a room without members', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1']);
      const two = instance(hub, 'i2', ['i2-1']);
      await two.rooms.join('i2-1', 'other');
      await expect(
        one.rooms.publish({ room: 'empty', from: 'i1-1', data: 'x' }),
      ).resolves.toEqual({ room: 'empty', recipients: 0, instances: 1 });
      expect(one.local.sent.get('i1-1')).toEqual([]);
      expect(two.local.sent.get('i2-1')).toEqual([]);
    });

    it('publishes the frame on the room’s channel with origin, exceptId and sentAt', async () => {
      const hub = new InMemoryHub();
      const { rooms } = instance(hub, 'i1', ['i1-1']);
      const peer = new InMemoryMessageBus(hub);
      const seen: BusMessage[] = [];
      await peer.subscribe('room:lobby', (m) => {
        seen.push(m);
      });
      const before = Date.now();
      const receipt = await rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 7,
        exceptId: 'i1-1',
      });
      const after = Date.now();

      expect(receipt).toEqual({ room: 'lobby', recipients: 0, instances: 2 });
      expect(seen).toHaveLength(1);
      const { sentAt, ...rest } = seen[0];
      expect(rest).toEqual({
        origin: 'i1',
        exceptId: 'i1-1',
        frame:
          '{"event":"message","data":{"room":"lobby","from":"i1-1","data":7}}',
      });
      expect(sentAt).toBeGreaterThanOrEqual(before);
      expect(sentAt).toBeLessThanOrEqual(after);
    });

    it('reaches only the members of that room on the other instances', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1', 'i1-2', 'i1-3']);
      const two = instance(hub, 'i2', ['i2-1', 'i2-2', 'i2-3']);
      const three = instance(hub, 'i3', ['i3-1']);
      await one.rooms.join('i1-1', 'lobby');
      await one.rooms.join('i1-2', 'lobby');
      await one.rooms.join('i1-3', 'other');
      await two.rooms.join('i2-1', 'lobby');
      await two.rooms.join('i2-2', 'other');
      await three.rooms.join('i3-1', 'other');

      const receipt = await one.rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 'hello',
        exceptId: 'i1-1',
      });

      // i3 has no member in the lobby: it is not subscribed, and not counted.
      expect(receipt).toEqual({ room: 'lobby', recipients: 1, instances: 2 });
      const push = message('lobby', 'i1-1', 'hello');
      expect(one.local.framesOf('i1-1')).toEqual([]);
      expect(one.local.framesOf('i1-2')).toEqual([push]);
      expect(one.local.framesOf('i1-3')).toEqual([]);
      expect(two.local.framesOf('i2-1')).toEqual([push]);
      expect(two.local.framesOf('i2-2')).toEqual([]);
      expect(two.local.framesOf('i2-3')).toEqual([]);
      expect(three.local.framesOf('i3-1')).toEqual([]);
      expect(three.local.eachCalls).toEqual([]);
      // The very string the publisher serialized.
      expect(two.local.sent.get('i2-1')?.[0]).toBe(
        one.local.sent.get('i1-2')?.[0],
      );
    });

    it('leaves out exceptId on the other instances too', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1']);
      const two = instance(hub, 'i2', ['i2-1', 'i2-2']);
      await two.rooms.join('i2-1', 'lobby');
      await two.rooms.join('i2-2', 'lobby');
      await one.rooms.publish({
        room: 'lobby',
        from: 'moderator',
        data: 'not you',
        exceptId: 'i2-1',
      });
      expect(two.local.framesOf('i2-1')).toEqual([]);
      expect(two.local.framesOf('i2-2')).toEqual([
        message('lobby', 'moderator', 'not you'),
      ]);
    });

    it('stops reaching an instance once its last member left', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1']);
      const two = instance(hub, 'i2', ['i2-1', 'i2-2']);
      await two.rooms.join('i2-1', 'lobby');
      await two.rooms.join('i2-2', 'lobby');

      two.rooms.leave('i2-1', 'lobby');
      const first = await one.rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 1,
      });
      two.disconnect('i2-2');
      const second = await one.rooms.publish({
        room: 'lobby',
        from: 'i1-1',
        data: 2,
      });

      expect(first.instances).toBe(2);
      expect(second.instances).toBe(1);
      expect(two.local.framesOf('i2-1')).toEqual([]);
    });

    it('keeps the order of many messages, here and on the other instance', async () => {
      const hub = new InMemoryHub();
      const one = instance(hub, 'i1', ['i1-1', 'i1-2']);
      const two = instance(hub, 'i2', ['i2-1']);
      await one.rooms.join('i1-2', 'feed');
      await two.rooms.join('i2-1', 'feed');

      // Not awaited one by one: all in flight at once, as from a busy publisher.
      await Promise.all(
        Array.from({ length: 500 }, (_, n) =>
          one.rooms.publish({ room: 'feed', from: 'i1-1', data: n }),
        ),
      );
      for (let n = 500; n < 600; n++) {
        await one.rooms.publish({ room: 'feed', from: 'i1-1', data: n });
      }

      const expected = Array.from({ length: 600 }, (_, n) =>
        message('feed', 'i1-1', n),
      );
      expect(two.local.framesOf('i2-1')).toEqual(expected);
      expect(one.local.framesOf('i1-2')).toEqual(expected);
    });

    it('answers UNAVAILABLE when the bus cannot take the message, after the local members got it', async () => {
      const local = new RecordingDelivery(['i1-1', 'i1-2', 'i1-3']);
      const bus = new UnavailableBus('Redis at 10.0.0.5:6379 is away');
      const rooms = roomsService(local, bus, 'i1', {}, new GatewayEvents());
      rooms.onModuleInit();
      for (const id of ['i1-1', 'i1-2', 'i1-3']) await rooms.join(id, 'lobby');
      expect([...bus.subscriptions.keys()]).toEqual(['room:lobby']);

      const error = expectGatewayError(
        await rejectionOf(
          rooms.publish({
            room: 'lobby',
            from: 'i1-1',
            data: 'hi',
            exceptId: 'i1-1',
          }),
        ),
        ErrorCode.UNAVAILABLE,
      );

      expect(error.message).toContain('2 member(s)');
      expect(error.message).toContain('the message bus is unavailable');
      // The bus's own error (Redis's address, say) stays in the logs.
      expect(error.message).not.toContain('10.0.0.5');
      expect(local.framesOf('i1-2')).toEqual([message('lobby', 'i1-1', 'hi')]);
      expect(local.framesOf('i1-3')).toEqual([message('lobby', 'i1-1', 'hi')]);
      expect(local.framesOf('i1-1')).toEqual([]);
      expect(bus.published).toHaveLength(1);
      expect(bus.published[0].channel).toBe('room:lobby');
    });
  });

  describe('lifecycle events', () => {
    it('emits joined with the connection and the room, once per real join', async () => {
      const { rooms, local, events } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
      ]);
      const calls: unknown[][] = [];
      events.on('joined', (...args) => calls.push(args));
      await rooms.join('i1-1', 'lobby');
      await rooms.join('i1-1', 'lobby');
      await rejectionOf(rooms.join('i1-1', 'bad name'));

      expect(calls).toHaveLength(1);
      expect(calls[0][0]).toBe(local.info('i1-1'));
      expect(calls[0][1]).toBe('lobby');
    });

    it('emits left with the connection and the room on leave, not for a non-member', async () => {
      const { rooms, local, events } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
      ]);
      const calls: unknown[][] = [];
      events.on('left', (...args) => calls.push(args));
      await rooms.join('i1-1', 'lobby');
      rooms.leave('i1-1', 'lobby');
      rooms.leave('i1-1', 'lobby');
      rooms.leave('i1-1', 'never');

      expect(calls).toHaveLength(1);
      expect(calls[0][0]).toBe(local.info('i1-1'));
      expect(calls[0][1]).toBe('lobby');
    });

    it('leaves every room when the connection disconnects, emitting left for each', async () => {
      const hub = new InMemoryHub();
      const { rooms, disconnect, left } = instance(hub, 'i1', ['i1-1', 'i1-2']);
      await rooms.join('i1-1', 'a');
      await rooms.join('i1-1', 'b');
      await rooms.join('i1-2', 'b');

      disconnect('i1-1');

      expect(rooms.roomsOf('i1-1')).toEqual([]);
      expect(rooms.memberCount('a')).toBe(0);
      expect(rooms.memberCount('b')).toBe(1);
      expect(rooms.roomCount).toBe(1);
      expect([...left].sort(([, a], [, b]) => a.localeCompare(b))).toEqual([
        ['i1-1', 'a'],
        ['i1-1', 'b'],
      ]);
      expect(roomChannels(hub)).toEqual(['room:b']);
    });

    it('ignores the disconnect of a connection in no room', async () => {
      const { rooms, disconnect, left } = instance(new InMemoryHub(), 'i1', [
        'i1-1',
        'i1-2',
      ]);
      await rooms.join('i1-2', 'lobby');
      disconnect('i1-1');
      expect(rooms.memberCount('lobby')).toBe(1);
      expect(left).toEqual([]);
    });

    it('listens for disconnects from onModuleInit on', async () => {
      const local = new RecordingDelivery(['i1-1']);
      const events = new GatewayEvents();
      const rooms = roomsService(
        local,
        new InMemoryMessageBus(),
        'i1',
        {},
        events,
      );
      await rooms.join('i1-1', 'lobby');
      const info = local.info('i1-1')!;
      events.emit('disconnected', info, { code: 1000, reason: '' });
      expect(rooms.roomsOf('i1-1')).toEqual(['lobby']);

      rooms.onModuleInit();
      events.emit('disconnected', info, { code: 1000, reason: '' });
      expect(rooms.roomsOf('i1-1')).toEqual([]);
      expect(rooms.roomCount).toBe(0);
    });

    describe('with a faulty listener', () => {
      const logs = captureErrorLogs();

      it('still joins and leaves when a joined or left listener throws', async () => {
        const hub = new InMemoryHub();
        const { rooms, events, subscribed } = instance(hub, 'i1', ['i1-1']);
        events.on('joined', () => {
          throw new Error('audit log down');
        });
        events.on('left', () => {
          throw new Error('audit log down');
        });
        await rooms.join('i1-1', 'lobby');
        expect(rooms.roomsOf('i1-1')).toEqual(['lobby']);
        expect(subscribed('lobby')).toBe(true);
        expect(rooms.leave('i1-1', 'lobby')).toBe(true);
        expect(subscribed('lobby')).toBe(false);
        expect(logs()).toHaveLength(2);
      });
    });
  });

  describe('bookkeeping under many joins, leaves and disconnects', () => {
    /** mulberry32: a small seeded PRNG, so every run makes the same moves. */
    function prng(seed: number) {
      let a = seed >>> 0;
      return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    /**
     * The service's own maps, read for the leak check only: an empty set left behind in them
     * is invisible through the public API (roomsOf says [] either way), yet it is a leak.
     */
    const internals = (rooms: RoomsService) =>
      rooms as unknown as {
        rooms: Map<string, { members: Set<string> }>;
        memberships: Map<string, Set<string>>;
      };

    it('leaks no entry: 200 connections, 50 rooms, 20,000 operations', async () => {
      const CONNECTIONS_PER_INSTANCE = 100;
      const ROOMS = Array.from({ length: 50 }, (_, n) => `room-${n}`);
      const OPERATIONS = 20_000;
      const LIMIT = 8;
      const random = prng(0x5eed);
      const pick = <T>(list: readonly T[]): T =>
        list[Math.floor(random() * list.length)];

      const hub = new InMemoryHub();
      const instances = ['i1', 'i2'].map((id) => ({
        id,
        sequence: 0,
        slots: [] as string[],
        ...instance(hub, id, [], { maxRoomsPerConnection: LIMIT }),
      }));
      /** The model: connection id -> the rooms it should be in. */
      const model = new Map<string, Set<string>>();
      const everSeen: string[] = [];
      const open = (inst: (typeof instances)[number]) => {
        const id = `${inst.id}-${(++inst.sequence).toString(36)}`;
        inst.local.connect(id);
        model.set(id, new Set());
        everSeen.push(id);
        return id;
      };
      for (const inst of instances) {
        for (let n = 0; n < CONNECTIONS_PER_INSTANCE; n++) {
          inst.slots.push(open(inst));
        }
      }
      const localMembers = (inst: (typeof instances)[number], room: string) =>
        inst.slots.filter((id) => model.get(id)!.has(room));

      const checkInvariants = (at: number) => {
        const context = `after operation ${at}`;
        for (const inst of instances) {
          for (const id of inst.slots) {
            expect(inst.rooms.roomsOf(id).sort(), context).toEqual(
              [...model.get(id)!].sort(),
            );
          }
          let nonEmpty = 0;
          for (const room of ROOMS) {
            const members = localMembers(inst, room).length;
            if (members > 0) nonEmpty++;
            expect(inst.rooms.memberCount(room), context).toBe(members);
            expect(inst.subscribed(room), context).toBe(members > 0);
          }
          expect(inst.rooms.roomCount, context).toBe(nonEmpty);
          const maps = internals(inst.rooms);
          expect(maps.rooms.size, context).toBe(nonEmpty);
          expect(maps.memberships.size, context).toBe(
            inst.slots.filter((id) => model.get(id)!.size > 0).length,
          );
          for (const set of [
            ...[...maps.rooms.values()].map((state) => state.members),
            ...maps.memberships.values(),
          ]) {
            expect(set.size, context).toBeGreaterThan(0);
          }
          const memberships = inst.slots.reduce(
            (n, id) => n + model.get(id)!.size,
            0,
          );
          expect(inst.joined.length - inst.left.length, context).toBe(
            memberships,
          );
        }
        for (const id of everSeen) {
          if (model.has(id)) continue;
          const inst = instances.find((i) => id.startsWith(`${i.id}-`))!;
          expect(inst.rooms.roomsOf(id), context).toEqual([]);
        }
      };

      const counts = {
        join: 0,
        forbidden: 0,
        leave: 0,
        leaveMiss: 0,
        disconnect: 0,
        publish: 0,
      };
      for (let op = 1; op <= OPERATIONS; op++) {
        const inst = pick(instances);
        const other = instances.find((i) => i !== inst)!;
        const slot = Math.floor(random() * inst.slots.length);
        const id = inst.slots[slot];
        const room = pick(ROOMS);
        const rooms = model.get(id)!;
        const roll = random();
        if (roll < 0.45) {
          if (!rooms.has(room) && rooms.size >= LIMIT) {
            expectGatewayError(
              await rejectionOf(inst.rooms.join(id, room)),
              ErrorCode.FORBIDDEN,
            );
            counts.forbidden++;
          } else {
            await inst.rooms.join(id, room);
            rooms.add(room);
            counts.join++;
          }
        } else if (roll < 0.85) {
          // Half the leaves aim at a room the connection is in, half anywhere.
          const target =
            rooms.size > 0 && random() < 0.5 ? pick([...rooms]) : room;
          const wasMember = rooms.delete(target);
          expect(inst.rooms.leave(id, target)).toBe(wasMember);
          if (wasMember) counts.leave++;
          else counts.leaveMiss++;
        } else if (roll < 0.95) {
          inst.disconnect(id);
          model.delete(id);
          inst.slots[slot] = open(inst);
          counts.disconnect++;
        } else {
          const here = localMembers(inst, room);
          const there = localMembers(other, room);
          inst.local.clear();
          other.local.clear();
          const receipt = await inst.rooms.publish({
            room,
            from: id,
            data: op,
            exceptId: id,
          });
          expect(receipt).toEqual({
            room,
            recipients: here.filter((m) => m !== id).length,
            instances: there.length > 0 ? 2 : 1,
          });
          const reached = (i: (typeof instances)[number]) =>
            i.slots.filter((m) => (i.local.sent.get(m) ?? []).length > 0);
          expect(reached(inst).sort()).toEqual(
            here.filter((m) => m !== id).sort(),
          );
          expect(reached(other).sort()).toEqual([...there].sort());
          counts.publish++;
        }
        if (op % 500 === 0) checkInvariants(op);
      }

      // The run did exercise every path.
      expect(counts.join).toBeGreaterThan(5_000);
      expect(counts.leave).toBeGreaterThan(1_000);
      expect(counts.leaveMiss).toBeGreaterThan(1_000);
      expect(counts.forbidden).toBeGreaterThan(10);
      expect(counts.disconnect).toBeGreaterThan(1_000);
      expect(counts.publish).toBeGreaterThan(500);

      for (const inst of instances) {
        for (const id of inst.slots) {
          inst.disconnect(id);
          model.delete(id);
        }
        inst.slots.length = 0;
      }

      for (const inst of instances) {
        expect(inst.rooms.roomCount).toBe(0);
        for (const room of ROOMS) {
          expect(inst.rooms.memberCount(room)).toBe(0);
          expect(inst.subscribed(room)).toBe(false);
        }
        expect(inst.joined.length).toBe(inst.left.length);
        expect(internals(inst.rooms).rooms.size).toBe(0);
        expect(internals(inst.rooms).memberships.size).toBe(0);
      }
      for (const id of everSeen) {
        const inst = instances.find((i) => id.startsWith(`${i.id}-`))!;
        expect(inst.rooms.roomsOf(id)).toEqual([]);
      }
      expect(roomChannels(hub)).toEqual([]);
    });
  });
});
