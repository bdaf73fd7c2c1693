import { WebSocket } from 'ws';
import { nextEvent } from '../../test/support/client-events.js';
import {
  barrier,
  type Peer,
  ScriptedServer,
  until,
  WAIT_MS,
} from '../../test/support/scripted-gateway.js';
import { RequestError } from './errors.js';
import { GatewayClient, type WebSocketConstructor } from './gateway-client.js';
import type { RoomRecovery } from './room-positions.js';

// History and recovery over a real socket: the client against a `ws` server whose frames each test
// scripts (the gateway's side of docs/protocol.md, "History and recovery"). Against the real
// gateway it is test/client.e2e-spec.ts.

let server: ScriptedServer;
let client: GatewayClient;
/** What the app's `message` handler saw: `room:offset`. */
let seen: string[];
let recoveries: RoomRecovery[];

async function connected(): Promise<Peer> {
  client = new GatewayClient({
    url: server.url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { initialDelayMs: 5, maxDelayMs: 5, jitter: 0 },
    requestTimeoutMs: WAIT_MS,
  });
  client.onPush('message', ({ room, offset }) =>
    seen.push(`${room}:${offset ?? '-'}`),
  );
  client.on('recovery', (recovery) => recoveries.push(recovery));
  const opened = client.connect();
  const peer = await server.nextPeer();
  await opened;
  return peer;
}

/** Joins `room` and answers with that position. */
async function joined(
  peer: Peer,
  room: string,
  offset?: number,
  epoch = 'e1',
): Promise<void> {
  const joining = client.join(room);
  await peer.acceptJoin(offset, epoch);
  await joining;
}

beforeEach(async () => {
  server = await ScriptedServer.start();
  seen = [];
  recoveries = [];
});

afterEach(async () => {
  await client?.close();
  await server.close();
});

describe('GatewayClient history and recovery (against a scripted ws server)', () => {
  it('keeps the join position, advances it with each push, and drops duplicates', async () => {
    const peer = await connected();
    await joined(peer, 'r', 5);
    expect(client.position('r')).toEqual({ offset: 5, epoch: 'e1' });
    for (const offset of [6, 6, 4, 7]) peer.push('r', offset);
    await barrier(client, peer);
    expect(seen).toEqual(['r:6', 'r:7']);
    expect(client.position('r')).toEqual({ offset: 7, epoch: 'e1' });
  });

  it('a gap sends exactly one join with since; replayed and held messages reach the app once, in order', async () => {
    const peer = await connected();
    await joined(peer, 'r', 5);
    peer.push('r', 6);
    peer.push('r', 8); // 7 is missing
    peer.push('r', 9);
    const resync = await peer.next();
    expect(resync).toMatchObject({
      event: 'join',
      data: { room: 'r', since: { offset: 6, epoch: 'e1' } },
    });
    // The replay before the reply (8 and 9 again), then a live one.
    for (const offset of [7, 8, 9]) peer.push('r', offset);
    peer.reply(resync, { room: 'r', offset: 9, epoch: 'e1', recovered: true });
    peer.push('r', 10);
    await barrier(client, peer); // no second join came before the echo
    expect(seen).toEqual(['r:6', 'r:7', 'r:8', 'r:9', 'r:10']);
    expect(recoveries).toEqual([
      { room: 'r', recovered: true, position: { offset: 9, epoch: 'e1' } },
    ]);
  });

  it('a gap answered recovered:false emits recovery with the new position and goes on from there', async () => {
    const peer = await connected();
    await joined(peer, 'r', 5);
    const recovery = nextEvent(client, 'recovery');
    peer.push('r', 9);
    const resync = await peer.next();
    expect(resync.data).toEqual({
      room: 'r',
      since: { offset: 5, epoch: 'e1' },
    });
    peer.reply(resync, {
      room: 'r',
      offset: 12,
      epoch: 'e1',
      recovered: false,
    });
    peer.push('r', 13);
    expect(await recovery).toEqual({
      room: 'r',
      recovered: false,
      position: { offset: 12, epoch: 'e1' },
      missed: 7,
    });
    await until(() => seen.length === 1);
    expect(seen).toEqual(['r:13']);
    expect(client.position('r')).toEqual({ offset: 13, epoch: 'e1' });
  });

  it('delivers pushes without offset as they are', async () => {
    const peer = await connected();
    await joined(peer, 'plain');
    expect(client.position('plain')).toBeUndefined();
    peer.send({
      event: 'message',
      data: { room: 'plain', from: 'other', data: 1 },
    });
    peer.send({
      event: 'message',
      data: { room: 'plain', from: 'other', data: 1 },
    });
    await barrier(client, peer);
    expect(seen).toEqual(['plain:-', 'plain:-']);
  });

  it('after a reconnect sends one resume with the positions, and tells each room', async () => {
    const peer = await connected();
    await joined(peer, 'a', 3);
    await joined(peer, 'plain');
    await joined(peer, 'lost', 7, 'e1');
    await joined(peer, 'gone', 2, 'e1');
    await joined(peer, 'reborn', 40, 'e1');
    await joined(peer, 'refused', 1, 'e1');
    peer.push('a', 4);
    await until(() => seen.length === 1);

    const reconnected = nextEvent(client, 'reconnected');
    peer.socket.terminate();
    const again = await server.nextPeer();
    const resume = await again.next();
    expect(resume.event).toBe('resume');
    expect(resume.data).toEqual({
      rooms: [
        { room: 'a', since: { offset: 4, epoch: 'e1' } },
        { room: 'plain' },
        { room: 'lost', since: { offset: 7, epoch: 'e1' } },
        { room: 'gone', since: { offset: 2, epoch: 'e1' } },
        { room: 'reborn', since: { offset: 40, epoch: 'e1' } },
        { room: 'refused', since: { offset: 1, epoch: 'e1' } },
      ],
    });
    // The replay of `a` comes before the reply; `lost` was not recovered (same epoch), `gone`
    // neither (the room has a new epoch), `reborn` is caught up, `refused` is refused.
    again.push('a', 5);
    again.push('a', 6);
    again.reply(resume, {
      rooms: [
        { room: 'a', offset: 6, epoch: 'e1', recovered: true },
        { room: 'plain' },
        { room: 'lost', offset: 12, epoch: 'e1', recovered: false },
        { room: 'gone', offset: 1, epoch: 'e2', recovered: false },
        { room: 'reborn', offset: 40, epoch: 'e1', recovered: true },
        {
          room: 'refused',
          error: { code: 'FORBIDDEN', message: 'not allowed' },
        },
      ],
    });
    const info = await reconnected;
    expect(seen).toEqual(['a:4', 'a:5', 'a:6']);
    expect(recoveries).toEqual([
      { room: 'a', recovered: true, position: { offset: 6, epoch: 'e1' } },
      {
        room: 'lost',
        recovered: false,
        position: { offset: 12, epoch: 'e1' },
        missed: 5,
      },
      { room: 'gone', recovered: false, position: { offset: 1, epoch: 'e2' } },
      {
        room: 'reborn',
        recovered: true,
        position: { offset: 40, epoch: 'e1' },
      },
    ]);
    expect(info.rooms).toEqual(['a', 'plain', 'lost', 'gone', 'reborn']);
    expect(info.failedRooms).toHaveLength(1);
    const [failed] = info.failedRooms;
    expect(failed.room).toBe('refused');
    expect(failed.error).toBeInstanceOf(RequestError);
    expect(failed.error).toMatchObject({ code: 'FORBIDDEN' });
    expect(client.rooms).toEqual(info.rooms);
    expect(client.position('refused')).toBeUndefined();
    expect(client.position('gone')).toEqual({ offset: 1, epoch: 'e2' });

    // Live again, from the positions the reply gave.
    again.push('a', 6);
    again.push('lost', 13);
    await barrier(client, again);
    expect(seen.slice(3)).toEqual(['lost:13']);
  });

  it('a resume answered UNKNOWN_EVENT (an older gateway) falls back to one join per room', async () => {
    const peer = await connected();
    await joined(peer, 'a');
    await joined(peer, 'b');
    const reconnected = nextEvent(client, 'reconnected');
    peer.socket.close(1012, 'restart');
    const again = await server.nextPeer();
    const resume = await again.next();
    expect(resume.event).toBe('resume');
    again.error(resume, 'UNKNOWN_EVENT', 'unknown event "resume"');
    const joins = [await again.next(), await again.next()];
    // As before `resume` existed: `{room}` alone, which an older gateway takes.
    expect(joins.map(({ event, data }) => ({ event, data }))).toEqual([
      { event: 'join', data: { room: 'a' } },
      { event: 'join', data: { room: 'b' } },
    ]);
    again.reply(joins[0], { room: 'a' });
    again.error(joins[1], 'FORBIDDEN', 'not allowed to join room "b"');
    const info = await reconnected;
    expect(info.rooms).toEqual(['a']);
    expect(info.failedRooms.map(({ room, error }) => [room, error])).toEqual([
      ['b', expect.objectContaining({ code: 'FORBIDDEN' })],
    ]);
    expect(recoveries).toEqual([]);
  });

  it('a resume refused whole loses every room, as when each join fails', async () => {
    const peer = await connected();
    await joined(peer, 'a', 1);
    const reconnected = nextEvent(client, 'reconnected');
    peer.socket.terminate();
    const again = await server.nextPeer();
    again.error(await again.next(), 'RATE_LIMITED');
    const info = await reconnected;
    expect(info.rooms).toEqual([]);
    expect(info.failedRooms).toEqual([
      { room: 'a', error: expect.objectContaining({ code: 'RATE_LIMITED' }) },
    ]);
    expect(client.position('a')).toBeUndefined();
  });

  it('a drop during a gap re-sync voids it: the resume asks from the position delivered', async () => {
    const peer = await connected();
    await joined(peer, 'r', 5);
    peer.push('r', 7);
    expect((await peer.next()).data).toEqual({
      room: 'r',
      since: { offset: 5, epoch: 'e1' },
    });
    peer.socket.terminate();
    const again = await server.nextPeer();
    const resume = await again.next();
    expect(resume.data).toEqual({
      rooms: [{ room: 'r', since: { offset: 5, epoch: 'e1' } }],
    });
    again.push('r', 6);
    again.push('r', 7);
    again.reply(resume, {
      rooms: [{ room: 'r', offset: 7, epoch: 'e1', recovered: true }],
    });
    again.push('r', 8); // live: nothing holds it back any more
    await until(() => recoveries.length === 1);
    await barrier(client, again);
    expect(seen).toEqual(['r:6', 'r:7', 'r:8']);
    expect(recoveries[0]).toMatchObject({ room: 'r', recovered: true });
  });

  it("skips its own publish's offset when the reply names it: no re-sync", async () => {
    const peer = await connected();
    await joined(peer, 'r', 5);
    const publishing = client.publish('r', 'mine');
    const publish = await peer.next();
    expect(publish).toMatchObject({ event: 'publish', data: { room: 'r' } });
    peer.push('r', 7); // another member's, after this client's own 6
    peer.reply(publish, {
      room: 'r',
      recipients: 1,
      instances: 1,
      offset: 6,
      epoch: 'e1',
    });
    await publishing;
    await barrier(client, peer); // no join with since came first
    expect(seen).toEqual(['r:7']);
    expect(client.position('r')).toEqual({ offset: 7, epoch: 'e1' });
  });

  it('history() sends room, since and limit, and resolves with the reply', async () => {
    const peer = await connected();
    const reading = client.history('r', {
      since: { offset: 3, epoch: 'e1' },
      limit: 2,
    });
    const request = await peer.next();
    expect(request).toMatchObject({
      event: 'history',
      data: { room: 'r', since: { offset: 3, epoch: 'e1' }, limit: 2 },
    });
    const reply = {
      room: 'r',
      offset: 9,
      epoch: 'e1',
      messages: [
        { room: 'r', from: 'c1', data: 'four', offset: 4 },
        { room: 'r', from: 'c2', data: 'five', offset: 5 },
      ],
    };
    peer.reply(request, reply);
    expect(await reading).toEqual(reply);

    const newest = client.history('r');
    const plain = await peer.next();
    expect(plain.data).toEqual({ room: 'r' });
    peer.error(plain, 'UNAVAILABLE', 'history is unavailable');
    await expect(newest).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      event: 'history',
    });
    // history() reads; it joins nothing.
    expect(client.rooms).toEqual([]);
  });
});
