import { WebSocket } from 'ws';
import { nextEvent } from '../../test/support/client-events.js';
import {
  barrier,
  type Peer,
  type Received,
  ScriptedServer,
  until,
} from '../../test/support/scripted-gateway.js';
import type { ClientClock } from './clock.js';
import { RequestError, RequestTimeoutError } from './errors.js';
import { GatewayClient, type WebSocketConstructor } from './gateway-client.js';
import type { PresenceEvent } from './room-members.js';
import type { RoomRecovery } from './room-positions.js';

// Rooms the server could not join again for now (`UNAVAILABLE`: its history or presence store is
// away for a moment; or no reply) stay joined at their position and are resumed again with
// backoff, over a real socket against a `ws` server whose frames each test scripts. The
// client's timers of 500 ms and more (the retries, the request timeouts) are in the test's hands.

/** A timer of the client's clock that the test fires itself. */
interface HeldTimer {
  ms: number;
  callback: () => void;
  state: 'armed' | 'cleared' | 'fired';
}

/**
 * The client's clock: timers shorter than 500 ms (the reconnection's 5 ms) run for real; the
 * others (resume retries from 500 ms, request timeouts of a minute) wait for `fire`.
 */
class TestClock implements ClientClock {
  readonly held: HeldTimer[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    if (ms < 500) return { real: setTimeout(callback, ms) };
    const timer: HeldTimer = { ms, callback, state: 'armed' };
    this.held.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    if (handle === undefined) return;
    const timer = handle as Partial<HeldTimer> & {
      real?: ReturnType<typeof setTimeout>;
    };
    if (timer.real !== undefined) clearTimeout(timer.real);
    else if (timer.state === 'armed') timer.state = 'cleared';
  }

  /** The armed timers of that delay. */
  armed(ms: number): HeldTimer[] {
    return this.held.filter((t) => t.ms === ms && t.state === 'armed');
  }

  /** The armed retry timers: every held one but the request and connect timeouts. */
  get retries(): HeldTimer[] {
    return this.held.filter(
      (t) => t.state === 'armed' && t.ms < CONNECT_TIMEOUT_MS,
    );
  }

  /** Fires the one armed timer of that delay. */
  fire(ms: number): void {
    const timers = this.armed(ms);
    expect(timers).toHaveLength(1);
    timers[0].state = 'fired';
    timers[0].callback();
  }
}

const REQUEST_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 30_000;

let server: ScriptedServer;
let client: GatewayClient;
let clock: TestClock;
/** What the app's `message` handler saw: `room:offset`. */
let seen: string[];
let recoveries: RoomRecovery[];
/** The room events, in order: `pending a UNAVAILABLE 1 500`, `resumed a`, `failed a FORBIDDEN`. */
let told: string[];
let presence: PresenceEvent[];

const codeOf = (error: unknown): string =>
  error instanceof RequestError
    ? error.code
    : error instanceof RequestTimeoutError
      ? 'TIMEOUT'
      : String(error);

async function connected(): Promise<Peer> {
  client = new GatewayClient({
    url: server.url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { initialDelayMs: 5, maxDelayMs: 5, jitter: 0 },
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    clock,
    // No jitter: the retries' delays are the backoff's own, 500 ms doubling up to 10 s.
    random: () => 0,
  });
  client.onPush('message', ({ room, offset }) =>
    seen.push(`${room}:${offset ?? '-'}`),
  );
  client.on('recovery', (recovery) => recoveries.push(recovery));
  client.on('presence', (event) => presence.push(event));
  client.on('roomPending', ({ room, error, attempt, delayMs }) =>
    told.push(`pending ${room} ${codeOf(error)} ${attempt} ${delayMs}`),
  );
  client.on('roomResumed', ({ room }) => told.push(`resumed ${room}`));
  client.on('roomFailed', ({ room, error }) =>
    told.push(`failed ${room} ${codeOf(error)}`),
  );
  const opened = client.connect();
  const peer = await server.nextPeer();
  await opened;
  return peer;
}

/** Joins `room` and answers with that position (and `presence`, when given). */
async function joined(
  peer: Peer,
  room: string,
  offset: number,
  members?: unknown,
): Promise<void> {
  const joining = client.join(room, { presence: members !== undefined });
  const join = await peer.next();
  expect(join).toMatchObject({ event: 'join', data: { room } });
  peer.reply(join, {
    room,
    offset,
    epoch: 'e1',
    ...(members === undefined ? {} : { presence: { members } }),
  });
  await joining;
}

/** Drops the connection; resolves with the new one and the `resume` it sent first. */
async function dropped(peer: Peer): Promise<{ again: Peer; resume: Received }> {
  peer.socket.terminate();
  const again = await server.nextPeer();
  const resume = await again.next();
  expect(resume.event).toBe('resume');
  return { again, resume };
}

const unavailable = (room: string) => ({
  room,
  error: { code: 'UNAVAILABLE', message: 'history is unavailable' },
});

beforeEach(async () => {
  server = await ScriptedServer.start();
  clock = new TestClock();
  seen = [];
  recoveries = [];
  told = [];
  presence = [];
});

afterEach(async () => {
  await client?.close();
  await server.close();
});

describe('GatewayClient: rooms the server could not join for now are resumed again', () => {
  it('an UNAVAILABLE entry keeps the room and its position; the retry resumes it from there, each message once', async () => {
    const peer = await connected();
    await joined(peer, 'a', 3);
    await joined(peer, 'b', 10);
    peer.push('a', 4);
    await until(() => seen.length === 1);

    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    expect(resume.data).toEqual({
      rooms: [
        { room: 'a', since: { offset: 4, epoch: 'e1' } },
        { room: 'b', since: { offset: 10, epoch: 'e1' } },
      ],
    });
    again.reply(resume, {
      rooms: [
        unavailable('a'),
        { room: 'b', offset: 10, epoch: 'e1', recovered: true },
      ],
    });
    const info = await reconnected;
    expect(info.rooms).toEqual(['a', 'b']);
    expect(info.failedRooms).toEqual([]);
    expect(info.pendingRooms).toEqual(['a']);
    expect(told).toEqual(['pending a UNAVAILABLE 1 500']);
    expect(client.rooms).toEqual(['a', 'b']);
    expect(client.pendingRooms).toEqual(['a']);
    expect(client.position('a')).toEqual({ offset: 4, epoch: 'e1' });
    expect(recoveries.map(({ room }) => room)).toEqual(['b']);
    // The other room is live meanwhile.
    again.push('b', 11);
    await barrier(client, again);
    expect(seen).toEqual(['a:4', 'b:11']);

    // The retry: one resume, from the same position.
    const resumed = nextEvent(client, 'roomResumed');
    clock.fire(500);
    const retry = await again.next();
    expect(retry).toMatchObject({
      event: 'resume',
      data: { rooms: [{ room: 'a', since: { offset: 4, epoch: 'e1' } }] },
    });
    for (const offset of [4, 5, 6]) again.push('a', offset); // 4 again: a duplicate
    again.reply(retry, {
      rooms: [{ room: 'a', offset: 6, epoch: 'e1', recovered: true }],
    });
    expect(await resumed).toEqual({ room: 'a' });
    expect(recoveries.at(-1)).toEqual({
      room: 'a',
      recovered: true,
      position: { offset: 6, epoch: 'e1' },
    });
    again.push('a', 6); // live again: a duplicate is dropped, the next delivered
    again.push('a', 7);
    await barrier(client, again);
    expect(seen).toEqual(['a:4', 'b:11', 'a:5', 'a:6', 'a:7']);
    expect(told).toEqual(['pending a UNAVAILABLE 1 500', 'resumed a']);
    expect(client.pendingRooms).toEqual([]);
    expect(clock.retries).toEqual([]);
  });

  it('a whole resume answered UNAVAILABLE keeps every room; retries back off, presence is asked again, success resets the backoff', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    await joined(peer, 'p', 0, [{ id: 'u1', info: {} }]);

    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.error(resume, 'UNAVAILABLE', 'the presence store is away');
    const info = await reconnected;
    expect(info).toMatchObject({
      rooms: ['a', 'p'],
      failedRooms: [],
      pendingRooms: ['a', 'p'],
    });
    expect(client.position('a')).toEqual({ offset: 1, epoch: 'e1' });
    expect(client.members('p')).toEqual({
      members: [{ id: 'u1', info: {} }],
      count: 1,
    });

    clock.fire(500);
    const second = await again.next();
    expect(second.data).toEqual({
      rooms: [
        { room: 'a', since: { offset: 1, epoch: 'e1' } },
        { room: 'p', since: { offset: 0, epoch: 'e1' }, presence: true },
      ],
    });
    again.error(second, 'UNAVAILABLE');
    await until(() => told.length === 4);
    expect(clock.retries.map(({ ms }) => ms)).toEqual([1_000]);

    clock.fire(1_000);
    const third = await again.next();
    expect(third.data).toEqual(second.data);
    again.push('a', 2);
    again.reply(third, {
      rooms: [
        { room: 'a', offset: 2, epoch: 'e1', recovered: true },
        {
          room: 'p',
          offset: 0,
          epoch: 'e1',
          recovered: true,
          presence: { members: [{ id: 'u2', info: {} }] },
        },
      ],
    });
    await until(() => told.length === 6);
    expect(told).toEqual([
      'pending a UNAVAILABLE 1 500',
      'pending p UNAVAILABLE 1 500',
      'pending a UNAVAILABLE 2 1000',
      'pending p UNAVAILABLE 2 1000',
      'resumed a',
      'resumed p',
    ]);
    expect(seen).toEqual(['a:2']);
    expect(recoveries).toEqual([
      { room: 'a', recovered: true, position: { offset: 2, epoch: 'e1' } },
      { room: 'p', recovered: true, position: { offset: 0, epoch: 'e1' } },
    ]);
    expect(presence.at(-1)).toMatchObject({
      room: 'p',
      cause: 'resume',
      joined: [{ id: 'u2' }],
      left: [{ id: 'u1' }],
    });
    expect(clock.retries).toEqual([]);

    // Back to the first delay after a success.
    const { again: fourth, resume: next } = await dropped(again);
    fourth.reply(next, {
      rooms: [
        unavailable('a'),
        { room: 'p', offset: 0, epoch: 'e1', recovered: true },
      ],
    });
    await until(() => told.length === 7);
    expect(told.at(-1)).toBe('pending a UNAVAILABLE 1 500');
  });

  it('a resume with no reply in time keeps the rooms too, and the retry resumes them', async () => {
    const peer = await connected();
    await joined(peer, 'a', 5);
    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    // A server that joined the room but is slow to answer: a live push past a gap (6 is missing).
    let frames = 0;
    client.on('frame', () => frames++);
    again.push('a', 7);
    await until(() => frames === 1);
    expect(clock.armed(REQUEST_TIMEOUT_MS)).toHaveLength(1);
    clock.fire(REQUEST_TIMEOUT_MS);
    const info = await reconnected;
    expect(info.failedRooms).toEqual([]);
    expect(info.pendingRooms).toEqual(['a']);
    expect(told).toEqual(['pending a TIMEOUT 1 500']);
    // Nothing is claimed lost: 7 is let go, the retry has it replayed after 6.
    expect(seen).toEqual([]);
    // Its late reply changes nothing.
    again.reply(resume, {
      rooms: [{ room: 'a', offset: 9, epoch: 'e1', recovered: false }],
    });
    await barrier(client, again);
    expect(recoveries).toEqual([]);
    expect(client.position('a')).toEqual({ offset: 5, epoch: 'e1' });

    clock.fire(500);
    const retry = await again.next();
    expect(retry.data).toEqual({
      rooms: [{ room: 'a', since: { offset: 5, epoch: 'e1' } }],
    });
    again.push('a', 6);
    again.push('a', 7);
    again.reply(retry, {
      rooms: [{ room: 'a', offset: 7, epoch: 'e1', recovered: true }],
    });
    await until(() => told.length === 2);
    expect(told[1]).toBe('resumed a');
    expect(seen).toEqual(['a:6', 'a:7']);
    expect(recoveries).toEqual([
      { room: 'a', recovered: true, position: { offset: 7, epoch: 'e1' } },
    ]);
  });

  it('FORBIDDEN still loses the room, at the reconnection and at a retry', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    await joined(peer, 'refused', 1);
    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.reply(resume, {
      rooms: [
        unavailable('a'),
        { room: 'refused', error: { code: 'FORBIDDEN', message: 'no' } },
      ],
    });
    const info = await reconnected;
    expect(info.rooms).toEqual(['a']);
    expect(info.pendingRooms).toEqual(['a']);
    expect(info.failedRooms).toEqual([
      {
        room: 'refused',
        error: expect.objectContaining({ code: 'FORBIDDEN' }),
      },
    ]);
    expect(client.position('refused')).toBeUndefined();

    // The store is back, but the room is now refused: lost for good, no more retries.
    clock.fire(500);
    const retry = await again.next();
    again.reply(retry, {
      rooms: [{ room: 'a', error: { code: 'FORBIDDEN', message: 'no' } }],
    });
    await until(() => told.length === 2);
    expect(told).toEqual(['pending a UNAVAILABLE 1 500', 'failed a FORBIDDEN']);
    expect(client.rooms).toEqual([]);
    expect(client.pendingRooms).toEqual([]);
    expect(client.position('a')).toBeUndefined();
    expect(clock.retries).toEqual([]);
  });

  it('close() stops the retries', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.reply(resume, { rooms: [unavailable('a')] });
    await reconnected;
    const [timer] = clock.retries;
    expect(timer.ms).toBe(500);
    const closing = client.close();
    // At once, not when the socket's close comes back.
    expect(timer.state).toBe('cleared');
    await closing;
    expect(clock.retries).toEqual([]);
    expect(client.pendingRooms).toEqual([]);
  });

  it('leave() takes a pending room out of the retry', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    await joined(peer, 'b', 1);
    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.error(resume, 'UNAVAILABLE');
    await reconnected;
    const leaving = client.leave('a');
    expect(client.pendingRooms).toEqual(['b']);
    const leave = await again.next();
    expect(leave).toMatchObject({ event: 'leave', data: { room: 'a' } });
    again.reply(leave, { room: 'a' });
    await leaving;

    clock.fire(500);
    const retry = await again.next();
    expect(retry.data).toEqual({
      rooms: [{ room: 'b', since: { offset: 1, epoch: 'e1' } }],
    });
    again.reply(retry, {
      rooms: [{ room: 'b', offset: 1, epoch: 'e1', recovered: true }],
    });
    await until(() => told.length === 3);
    expect(told.slice(2)).toEqual(['resumed b']);
    expect(client.rooms).toEqual(['b']);

    // The last pending room left: no retry is left armed.
    const reconnectedAgain = nextEvent(client, 'reconnected');
    const { again: third, resume: next } = await dropped(again);
    third.reply(next, { rooms: [unavailable('b')] });
    await reconnectedAgain;
    const [timer] = clock.retries;
    const leavingB = client.leave('b');
    expect(timer.state).toBe('cleared');
    expect(clock.retries).toEqual([]);
    third.reply(await third.next(), { room: 'b' });
    await leavingB;
    // Even a stale firing of that timer sends nothing: the echo is the next frame.
    timer.callback();
    await barrier(client, third);
    expect(client.rooms).toEqual([]);
  });

  it('a room left while the retry is in flight does not become pending again', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    await joined(peer, 'b', 1);
    const reconnected = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.error(resume, 'UNAVAILABLE');
    await reconnected;
    clock.fire(500);
    const retry = await again.next();
    expect(retry.data.rooms.map(({ room }: { room: string }) => room)).toEqual([
      'a',
      'b',
    ]);
    const leaving = client.leave('b');
    const leave = await again.next();
    again.reply(retry, { rooms: [unavailable('a'), unavailable('b')] });
    await until(() => told.length === 3);
    expect(client.pendingRooms).toEqual(['a']);
    again.reply(leave, { room: 'b' });
    await leaving;
    expect(told).toEqual([
      'pending a UNAVAILABLE 1 500',
      'pending b UNAVAILABLE 1 500',
      'pending a UNAVAILABLE 2 1000',
    ]);
    clock.fire(1_000);
    expect((await again.next()).data).toEqual({
      rooms: [{ room: 'a', since: { offset: 1, epoch: 'e1' } }],
    });
  });

  it('a drop while rooms are pending folds them into the reconnection resume', async () => {
    const peer = await connected();
    await joined(peer, 'a', 2);
    const first = nextEvent(client, 'reconnected');
    const { again, resume } = await dropped(peer);
    again.reply(resume, { rooms: [unavailable('a')] });
    await first;
    const [timer] = clock.retries;

    const second = nextEvent(client, 'reconnected');
    const { again: third, resume: next } = await dropped(again);
    expect(timer.state).toBe('cleared');
    expect(next.data).toEqual({
      rooms: [{ room: 'a', since: { offset: 2, epoch: 'e1' } }],
    });
    third.push('a', 3);
    third.reply(next, {
      rooms: [{ room: 'a', offset: 3, epoch: 'e1', recovered: true }],
    });
    expect(await second).toMatchObject({
      rooms: ['a'],
      failedRooms: [],
      pendingRooms: [],
    });
    expect(told).toEqual(['pending a UNAVAILABLE 1 500', 'resumed a']);
    expect(seen).toEqual(['a:3']);
    expect(clock.retries).toEqual([]);
  });
});
