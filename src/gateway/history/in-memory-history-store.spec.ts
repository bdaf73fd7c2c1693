import { roomChannel } from '../bus/channels.js';
import {
  InMemoryHub,
  InMemoryMessageBus,
} from '../bus/in-memory-message-bus.js';
import type { BusMessage, MessageBus } from '../bus/message-bus.js';
import {
  FRAME_PREFIX,
  FRAME_TAIL,
  type AppendRequest,
  type Retention,
} from './history-store.js';
import {
  ENTRY_OVERHEAD,
  InMemoryHistoryStore,
} from './in-memory-history-store.js';

const TTL = 10_000;
const retention = (size = 100, ttlMs = TTL): Retention => ({ size, ttlMs });

/** The push up to its offset, as the rooms service builds it. */
const frameHead = (room: string, data: unknown = 'x') =>
  `${FRAME_PREFIX}{"room":${JSON.stringify(room)},"from":"c1","data":${JSON.stringify(data)},"offset":`;

/** What the store counts a kept frame as costing. */
const cost = (frame: string) => 2 * frame.length + ENTRY_OVERHEAD;

const stores: InMemoryHistoryStore[] = [];

/** A store on a bus whose hub has a second bus, `peer`, to watch what the store publishes. */
function setup(memoryBytes = 1e9, bus?: MessageBus) {
  const hub = new InMemoryHub();
  const own = new InMemoryMessageBus(hub);
  const peer = new InMemoryMessageBus(hub);
  const clock = { now: 1_000_000 };
  const store = new InMemoryHistoryStore(bus ?? own, {
    memoryBytes,
    now: () => clock.now,
  });
  stores.push(store);
  const request = (
    room: string,
    overrides: Partial<AppendRequest> = {},
  ): AppendRequest => ({
    room,
    frameHead: frameHead(room),
    origin: 'instance-a',
    sentAt: 42,
    retention: retention(),
    ...overrides,
  });
  const append = (room: string, overrides: Partial<AppendRequest> = {}) =>
    store.append(request(room, overrides));
  /** The offsets a read after 0 returns. */
  const kept = async (room: string, r = retention()) =>
    (
      await store.read({ room, after: 0, limit: 1_000_000, retention: r })
    ).messages.map((m) => m.offset);
  return { store, peer, clock, append, kept };
}

afterEach(() => {
  for (const store of stores.splice(0)) store.onModuleDestroy();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('InMemoryHistoryStore', () => {
  it('numbers each room gap-free from 1 and completes the frame with its offset', async () => {
    const { store, append } = setup();
    const a = [await append('a'), await append('a'), await append('a')];
    const b = await append('b');

    expect(a.map((m) => m.offset)).toEqual([1, 2, 3]);
    expect(b.offset).toBe(1);
    expect(a[1].frame).toBe(`${frameHead('a')}2${FRAME_TAIL}`);
    expect(JSON.parse(a[1].frame)).toEqual({
      event: 'message',
      data: { room: 'a', from: 'c1', data: 'x', offset: 2 },
    });
    const read = await store.read({
      room: 'a',
      after: 0,
      limit: 10,
      retention: retention(),
    });
    expect(read.top).toBe(3);
    expect(read.messages).toEqual(
      a.map(({ offset, frame }) => ({ offset, frame })),
    );
  });

  it('keeps an epoch for the life of a stream, and starts a new one after it expires', async () => {
    const { store, clock, append } = setup();
    const first = await store.read({
      room: 'r',
      limit: 10,
      retention: retention(),
    });
    expect(first).toEqual({ epoch: expect.any(String), top: 0, messages: [] });
    expect(first.epoch).toMatch(/^[\w-]{12}$/);

    const one = await append('r');
    expect(one).toMatchObject({ offset: 1, epoch: first.epoch });
    clock.now += TTL; // exactly ttl after its newest message: still alive
    expect((await append('r')).epoch).toBe(first.epoch);
    expect((await append('other')).epoch).not.toBe(first.epoch);

    clock.now += TTL + 1; // every message expired: the stream with them
    const after = await store.read({
      room: 'r',
      limit: 10,
      retention: retention(),
    });
    expect(after.epoch).not.toBe(first.epoch);
    expect(after.top).toBe(0);
    expect(await append('r')).toMatchObject({ offset: 1, epoch: after.epoch });
  });

  it('keeps a stream nobody wrote to while it is read, and forgets it ttl after the last read', async () => {
    const { store, clock } = setup();
    const read = () =>
      store.read({ room: 'r', limit: 0, retention: retention() });
    const { epoch } = await read();
    clock.now += TTL;
    expect((await read()).epoch).toBe(epoch);
    clock.now += TTL;
    expect((await read()).epoch).toBe(epoch);
    clock.now += TTL + 1;
    expect((await read()).epoch).not.toBe(epoch);
  });

  it('starts a new epoch on append when the newest message expired, reads or not', async () => {
    const { store, clock, append } = setup();
    const { epoch } = await append('r');
    clock.now += TTL;
    await store.read({ room: 'r', limit: 10, retention: retention() });
    clock.now += 1;
    const next = await append('r');
    expect(next.epoch).not.toBe(epoch);
    expect(next.offset).toBe(1);
  });

  it('keeps at most the current size, dropping the oldest when it shrinks', async () => {
    const { store, append, kept } = setup();
    for (let i = 0; i < 5; i++) await append('r', { retention: retention(3) });
    expect(await kept('r', retention(3))).toEqual([3, 4, 5]);

    await append('r', { retention: retention(10) });
    expect(await kept('r', retention(10))).toEqual([3, 4, 5, 6]);

    // A read applies the retention it is given as well.
    expect(await kept('r', retention(2))).toEqual([5, 6]);
    expect(store.stats.messages).toBe(2);

    await append('r', { retention: retention(0) });
    expect(await kept('r', retention(0))).toEqual([]);
    expect(store.stats).toMatchObject({ messages: 0, bytes: 0 });
    expect((await append('r')).offset).toBe(8);
  });

  it('does not keep messages older than the ttl, without losing the stream', async () => {
    const { store, clock, append, kept } = setup();
    const { epoch } = await append('r'); // at 0
    clock.now += 400;
    await append('r'); // at 400
    clock.now += 600;
    await append('r'); // at 1000
    clock.now += TTL - 600; // 1 is now older than the ttl, 2 exactly as old

    expect(await kept('r')).toEqual([2, 3]);
    expect(store.stats.messages).toBe(2);
    clock.now += 1;
    const read = await store.read({
      room: 'r',
      limit: 10,
      retention: retention(),
    });
    expect(read).toMatchObject({ epoch, top: 3 });
    expect(read.messages.map((m) => m.offset)).toEqual([3]);
    // A shorter ttl in a later call applies at once.
    expect(await kept('r', retention(100, 100))).toEqual([]);
  });

  it('reads the newest `limit` without `after`, and at most `limit` after it', async () => {
    const { store, append } = setup();
    for (let i = 0; i < 10; i++) await append('r');
    const read = async (after: number | undefined, limit: number) =>
      (
        await store.read({ room: 'r', after, limit, retention: retention() })
      ).messages.map((m) => m.offset);

    expect(await read(undefined, 3)).toEqual([8, 9, 10]);
    expect(await read(undefined, 50)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await read(5, 2)).toEqual([6, 7]);
    expect(await read(8, 5)).toEqual([9, 10]);
    expect(await read(10, 5)).toEqual([]);

    // Trimmed to 4: reads start from the oldest kept, and `limit` counts from there.
    await store.read({ room: 'r', limit: 0, retention: retention(4) });
    expect(await read(2, 2)).toEqual([7, 8]);
    expect(await read(undefined, 6)).toEqual([7, 8, 9, 10]);
  });

  it('reads the position only with limit 0', async () => {
    const { store, append } = setup();
    const { epoch } = await append('r');
    await append('r');
    for (const after of [undefined, 0, 1]) {
      expect(
        await store.read({
          room: 'r',
          after,
          limit: 0,
          retention: retention(),
        }),
      ).toEqual({ epoch, top: 2, messages: [] });
    }
  });

  it('evicts the oldest messages of all rooms first when over the memory cap', async () => {
    // Frames of one length (one-letter rooms, one-digit offsets), so the cap holds exactly 3.
    const size = cost(`${frameHead('a')}1${FRAME_TAIL}`);
    const { store, append, kept } = setup(3 * size + size - 1);
    await append('a'); // a1
    await append('b'); // b1
    await append('a'); // a2
    expect(store.stats).toEqual({ rooms: 2, messages: 3, bytes: 3 * size });

    await append('b'); // b2: a1 goes, the oldest of all, though room a has more
    expect(await kept('a')).toEqual([2]);
    expect(await kept('b')).toEqual([1, 2]);
    await append('c'); // c1: b1 goes
    expect(await kept('b')).toEqual([2]);
    await append('c'); // c2: a2 goes; the room keeps its stream and offsets
    expect(await kept('a')).toEqual([]);
    expect(store.stats).toEqual({ rooms: 3, messages: 3, bytes: 3 * size });
    expect((await append('a')).offset).toBe(3);
    expect(await kept('a')).toEqual([3]);
    expect(await kept('b')).toEqual([]);
  });

  it('never counts more than the cap after an append, and counts exactly what it keeps', async () => {
    const cap = 4_000;
    const { store, append } = setup(cap);
    const rooms = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
    for (let i = 0; i < 500; i++) {
      const room = rooms[(i * 7) % rooms.length];
      await append(room, {
        frameHead: frameHead(room, 'y'.repeat((i * 37) % 300)),
        retention: retention(1 + (i % 20)),
      });
      expect(store.stats.bytes).toBeLessThanOrEqual(cap);
    }
    let bytes = 0;
    let messages = 0;
    for (const room of rooms) {
      const read = await store.read({
        room,
        after: 0,
        limit: 1000,
        retention: retention(20),
      });
      for (const m of read.messages) bytes += cost(m.frame);
      messages += read.messages.length;
    }
    expect(messages).toBeGreaterThan(0);
    expect(store.stats).toEqual({ rooms: rooms.length, messages, bytes });
  });

  it('publishes but does not keep a message larger than the cap, nor its room’s older ones', async () => {
    const small = cost(`${frameHead('a')}1${FRAME_TAIL}`);
    const { store, peer, append, kept } = setup(4 * small);
    const seen: BusMessage[] = [];
    await peer.subscribe(roomChannel('a'), (m) => seen.push(m));
    await append('a');
    await append('b');
    await append('a');

    const big = await append('a', {
      frameHead: frameHead('a', 'z'.repeat(4 * small)),
    });
    expect(big).toMatchObject({ offset: 3, receivers: 1 });
    expect(seen.map((m) => m.frame)).toContain(big.frame);
    expect(await kept('a')).toEqual([]);
    expect(await kept('b')).toEqual([1]);
    expect(store.stats).toEqual({ rooms: 2, messages: 1, bytes: small });

    expect((await append('a')).offset).toBe(4);
    expect(await kept('a')).toEqual([4]);
  });

  it('holds the cap over 100,000 appends to 1,000 rooms, keeping the newest of all', async () => {
    const cap = 50 * cost(`${frameHead('room-999')}100${FRAME_TAIL}`);
    const { store, append } = setup(cap);
    const order: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const room = `room-${(i * 7919) % 1000}`;
      const { offset } = await append(room, {
        retention: retention(1000, 1e12),
      });
      order.push(`${room}#${offset}`);
      if (store.stats.bytes > cap)
        throw new Error(`over the cap after append ${i}: ${store.stats.bytes}`);
    }
    const { rooms, messages } = store.stats;
    expect(rooms).toBe(1000);
    expect(messages).toBeGreaterThanOrEqual(50);

    const keptNow: string[] = [];
    for (let r = 0; r < 1000; r++) {
      const room = `room-${r}`;
      const read = await store.read({
        room,
        after: 0,
        limit: 1000,
        retention: retention(1000, 1e12),
      });
      for (const m of read.messages) keptNow.push(`${room}#${m.offset}`);
    }
    expect(new Set(keptNow)).toEqual(new Set(order.slice(-messages)));
  });

  it('sweeps idle streams every ttl, and stops its timer with no streams left', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { store, clock, append } = setup();
    await append('written');
    await store.read({ room: 'read', limit: 0, retention: retention() });
    clock.now += 5_000;
    await append('busy');
    expect(store.stats).toMatchObject({ rooms: 3, messages: 2 });

    clock.now += 5_001;
    vi.advanceTimersByTime(TTL);
    expect(store.stats).toMatchObject({ rooms: 1, messages: 1 });

    clock.now += 5_000;
    vi.advanceTimersByTime(TTL);
    expect(store.stats).toEqual({ rooms: 0, messages: 0, bytes: 0 });
    expect(vi.getTimerCount()).toBe(0);

    // Reads and appends start it again.
    await append('again');
    expect(vi.getTimerCount()).toBe(1);
  });

  it('sweeps at least every 60 s, however long the ttl', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { store, clock, append } = setup();
    await append('r', { retention: retention(10, 90_000) });
    clock.now += 90_001;
    vi.advanceTimersByTime(60_000);
    expect(store.stats.rooms).toBe(0);
  });

  it('drops expired messages of live streams in the sweep', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { store, clock, append } = setup();
    await append('r');
    clock.now += 6_000;
    await append('r');
    clock.now += 5_000;
    vi.advanceTimersByTime(TTL);
    expect(store.stats).toMatchObject({ rooms: 1, messages: 1 });
  });

  it('does not hold the process open with its timer, and stops it on destroy', async () => {
    const spy = vi.spyOn(globalThis, 'setInterval');
    const { store } = setup();
    await store.read({ room: 'r', limit: 0, retention: retention() });
    expect(spy).toHaveBeenCalledTimes(1);
    const timer = spy.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);

    const clear = vi.spyOn(globalThis, 'clearInterval');
    store.onModuleDestroy();
    expect(clear).toHaveBeenCalledWith(timer);
    await store.read({ room: 's', limit: 0, retention: retention(10, 10) });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('publishes each message to the other instances with its position, in offset order, before append returns', async () => {
    const { store, peer } = setup();
    const seen: BusMessage[] = [];
    await peer.subscribe(roomChannel('r'), (m) => seen.push(m));
    const requests = [1, 2, 3].map((i): AppendRequest => ({
      room: 'r',
      frameHead: frameHead('r', i),
      origin: 'instance-a',
      exceptId: `sender-${i}`,
      sentAt: 100 + i,
      retention: retention(),
    }));
    const pending = requests.map((request) => store.append(request));
    // Delivered synchronously, in the order of the appends, before any of them resolved.
    expect(seen.map((m) => m.offset)).toEqual([1, 2, 3]);
    const appended = await Promise.all(pending);

    expect(seen).toEqual(
      appended.map((a, i) => ({
        origin: 'instance-a',
        exceptId: `sender-${i + 1}`,
        sentAt: 101 + i,
        frame: a.frame,
        offset: i + 1,
        epoch: a.epoch,
      })),
    );
    expect(appended.map((a) => a.receivers)).toEqual([1, 1, 1]);
    expect(new Set(appended.map((a) => a.epoch)).size).toBe(1);
  });

  it('rejects when the bus does, the message staying in its history', async () => {
    const failure = new Error('bus down');
    const rejecting: MessageBus = {
      publish: () => Promise.reject(failure),
      subscribe: () => Promise.resolve(),
      unsubscribe: () => Promise.resolve(),
      isReady: () => false,
    };
    const { append, kept } = setup(1e9, rejecting);
    await expect(append('r')).rejects.toBe(failure);
    expect(await kept('r')).toEqual([1]);

    const throwing: MessageBus = {
      ...rejecting,
      publish: () => {
        throw failure;
      },
    };
    const other = setup(1e9, throwing);
    const result = other.append('r');
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toBe(failure);
  });

  it('refuses a memory cap that is not a number >= 0', () => {
    const bus = new InMemoryMessageBus();
    for (const memoryBytes of [-1, Number.NaN])
      expect(() => new InMemoryHistoryStore(bus, { memoryBytes })).toThrow(
        RangeError,
      );
  });
});
