import { WebSocket } from 'ws';
import {
  barrier,
  type Peer,
  ScriptedServer,
  until,
  WAIT_MS,
} from '../../test/support/scripted-gateway.js';
import {
  GatewayClient,
  type PresenceEvent,
  type WebSocketConstructor,
} from './gateway-client.js';

// Presence over a real socket: the client against a `ws` server whose frames each test scripts
// (the gateway's side of docs/protocol.md, "Presence").

const alice = { id: 'alice', info: { name: 'Alice' } };
const bob = { id: 'bob', info: { name: 'Bob' } };
const carol = { id: 'carol', info: { name: 'Carol' } };

let server: ScriptedServer;
let client: GatewayClient;
/** The `presence` events, in order. */
let events: PresenceEvent[];
/** The `presence` pushes the `onPush` handlers got. */
let pushes: unknown[];

async function connected(): Promise<Peer> {
  client = new GatewayClient({
    url: server.url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    reconnect: { initialDelayMs: 5, maxDelayMs: 5, jitter: 0 },
    requestTimeoutMs: WAIT_MS,
  });
  client.on('presence', (event) => events.push(event));
  client.onPush('presence', (data) => pushes.push(data));
  const opened = client.connect();
  const peer = await server.nextPeer();
  await opened;
  return peer;
}

/** Joins `room` with presence, the reply carrying `presence`. */
async function joinedWithPresence(
  peer: Peer,
  room: string,
  presence: unknown,
): Promise<void> {
  const joining = client.join(room, { presence: true });
  const join = await peer.next();
  expect(join).toMatchObject({
    event: 'join',
    data: { room, presence: true },
  });
  peer.reply(join, { room, offset: 0, epoch: 'e1', presence });
  await joining;
}

beforeEach(async () => {
  server = await ScriptedServer.start();
  events = [];
  pushes = [];
});

afterEach(async () => {
  await client?.close();
  await server.close();
});

describe('GatewayClient presence (against a scripted ws server)', () => {
  it('join with presence sends presence:true and seeds the member list from the reply', async () => {
    const peer = await connected();
    const joining = client.join('lobby', { presence: true });
    const join = await peer.next();
    expect(join.data).toEqual({ room: 'lobby', presence: true });
    expect(client.members('lobby')).toBeUndefined();
    const view = {
      members: [
        { ...alice, connections: 2 },
        { ...bob, connections: 1 },
      ],
      count: 2,
    };
    peer.reply(join, { room: 'lobby', offset: 3, epoch: 'e1', presence: view });
    expect(await joining).toEqual({
      room: 'lobby',
      offset: 3,
      epoch: 'e1',
      presence: view,
    });
    expect(client.members('lobby')).toEqual(view);
    expect(events).toEqual([
      {
        room: 'lobby',
        cause: 'join',
        ...view,
        joined: view.members,
        left: [],
      },
    ]);
    // A plain join asks for no presence, and keeps no list.
    const plain = client.join('plain');
    const plainJoin = await peer.next();
    expect(plainJoin.data).toEqual({ room: 'plain' });
    peer.reply(plainJoin, { room: 'plain' });
    await plain;
    expect(client.members('plain')).toBeUndefined();
  });

  it('pushes update the list and emit an event each; a count push turns the room count-only', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', { members: [alice], count: 1 });
    events = [];
    peer.presence({ room: 'lobby', joined: [bob, carol], left: [] });
    peer.presence({ room: 'lobby', joined: [bob], left: [alice] }); // bob again: replaced
    peer.presence({ room: 'lobby', count: 1200 });
    peer.presence({ room: 'other', joined: [alice], left: [] }); // not joined with presence
    await barrier(client, peer);
    expect(events).toEqual([
      {
        room: 'lobby',
        cause: 'push',
        members: [alice, bob, carol],
        count: 3,
        joined: [bob, carol],
        left: [],
      },
      {
        room: 'lobby',
        cause: 'push',
        members: [bob, carol],
        count: 2,
        joined: [],
        left: [alice],
      },
      { room: 'lobby', cause: 'push', count: 1200, joined: [], left: [] },
    ]);
    expect(client.members('lobby')).toEqual({ count: 1200 });
    // Every push, the other room's too, reaches the push handlers as sent.
    expect(pushes).toHaveLength(4);
    expect(pushes[3]).toEqual({ room: 'other', joined: [alice], left: [] });
  });

  it('a push handler reads the list already updated', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', { members: [alice], count: 1 });
    const seen: unknown[] = [];
    client.onPush('presence', () => seen.push(client.members('lobby')));
    peer.presence({ room: 'lobby', joined: [bob], left: [] });
    await until(() => seen.length === 1);
    expect(seen).toEqual([{ members: [alice, bob], count: 2 }]);
  });

  it('a push that comes before the join reply is applied after it', async () => {
    const peer = await connected();
    const joining = client.join('lobby', { presence: true });
    const join = await peer.next();
    peer.presence({ room: 'lobby', joined: [carol], left: [] });
    peer.reply(join, {
      room: 'lobby',
      presence: { members: [alice], count: 1 },
    });
    await joining;
    expect(client.members('lobby')).toEqual({
      members: [alice, carol],
      count: 2,
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ cause: 'join', joined: [alice, carol] });
  });

  it('a join reply with presence.error joins the room and emits the error; pushes are ignored', async () => {
    const peer = await connected();
    const error = { code: 'UNAVAILABLE', message: 'presence store away' };
    await joinedWithPresence(peer, 'lobby', { error });
    expect(client.rooms).toEqual(['lobby']);
    expect(client.members('lobby')).toBeUndefined();
    expect(events).toEqual([{ room: 'lobby', cause: 'join', error }]);
    peer.presence({ room: 'lobby', joined: [bob], left: [] });
    await barrier(client, peer);
    expect(events).toHaveLength(1);
  });

  it('on reconnect, resumes presence rooms with presence:true and replaces their list', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', {
      members: [alice, bob],
      count: 2,
    });
    const plain = client.join('plain');
    const plainJoin = await peer.next();
    peer.reply(plainJoin, { room: 'plain' });
    await plain;
    events = [];

    const reconnected = new Promise((resolve) =>
      client.once('reconnected', resolve),
    );
    peer.socket.terminate();
    const again = await server.nextPeer();
    const resume = await again.next();
    expect(resume).toMatchObject({
      event: 'resume',
      data: {
        rooms: [
          { room: 'lobby', since: { offset: 0, epoch: 'e1' }, presence: true },
          { room: 'plain' },
        ],
      },
    });
    expect(resume.data.rooms[1]).not.toHaveProperty('presence');
    // While the drop lasted, alice left and carol came: the list is replaced, not diffed.
    again.reply(resume, {
      rooms: [
        {
          room: 'lobby',
          offset: 0,
          epoch: 'e1',
          recovered: true,
          presence: { members: [bob, carol], count: 2 },
        },
        { room: 'plain' },
      ],
    });
    await reconnected;
    expect(events).toEqual([
      {
        room: 'lobby',
        cause: 'resume',
        members: [bob, carol],
        count: 2,
        joined: [carol],
        left: [alice],
      },
    ]);
    expect(client.members('lobby')).toEqual({
      members: [bob, carol],
      count: 2,
    });
    // Live again from the new list.
    again.presence({ room: 'lobby', joined: [], left: [bob] });
    await until(() => events.length === 2);
    expect(client.members('lobby')).toEqual({ members: [carol], count: 1 });
  });

  it('a resume result with presence.error keeps the room joined, emits the error, and asks again on the next reconnect only', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', { members: [alice], count: 1 });
    events = [];
    peer.socket.terminate();
    const again = await server.nextPeer();
    const resume = await again.next();
    const error = { code: 'UNAVAILABLE', message: 'presence store away' };
    const reconnected = new Promise((resolve) =>
      client.once('reconnected', resolve),
    );
    again.reply(resume, {
      rooms: [{ room: 'lobby', offset: 0, epoch: 'e1', presence: { error } }],
    });
    expect(await reconnected).toMatchObject({
      rooms: ['lobby'],
      failedRooms: [],
    });
    expect(events).toEqual([{ room: 'lobby', cause: 'resume', error }]);
    expect(client.members('lobby')).toBeUndefined();
    // Nothing asks for presence until the next reconnect: the next frame is the barrier's echo.
    await barrier(client, again);

    again.socket.terminate();
    const third = await server.nextPeer();
    const retry = await third.next();
    expect(retry.data.rooms).toEqual([
      { room: 'lobby', since: { offset: 0, epoch: 'e1' }, presence: true },
    ]);
    third.reply(retry, {
      rooms: [
        {
          room: 'lobby',
          offset: 0,
          epoch: 'e1',
          presence: { members: [alice], count: 1 },
        },
      ],
    });
    await until(() => events.length === 2);
    expect(events[1]).toMatchObject({ cause: 'resume', joined: [alice] });
    expect(client.members('lobby')).toEqual({ members: [alice], count: 1 });
  });

  it('a resume answered UNKNOWN_EVENT (an older gateway) joins without presence and says so', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', { members: [alice], count: 1 });
    events = [];
    peer.socket.terminate();
    const again = await server.nextPeer();
    again.error(await again.next(), 'UNKNOWN_EVENT', 'unknown event "resume"');
    const join = await again.next();
    expect(join.data).toEqual({ room: 'lobby' });
    again.reply(join, { room: 'lobby' });
    await until(() => events.length === 1);
    expect(events[0]).toMatchObject({
      room: 'lobby',
      cause: 'resume',
      error: { code: 'UNAVAILABLE' },
    });
    expect(client.rooms).toEqual(['lobby']);
  });

  it('leave forgets the list: no more events, and no presence in the next resume', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'lobby', { members: [alice], count: 1 });
    const leaving = client.leave('lobby');
    const leave = await peer.next();
    peer.reply(leave, { room: 'lobby' });
    await leaving;
    expect(client.members('lobby')).toBeUndefined();
    peer.presence({ room: 'lobby', joined: [bob], left: [] });
    await barrier(client, peer);
    expect(events).toHaveLength(1); // the join's

    // Joined again without presence: the reconnection does not ask for it.
    const joining = client.join('lobby');
    const join = await peer.next();
    expect(join.data).toEqual({ room: 'lobby' });
    peer.reply(join, { room: 'lobby' });
    await joining;
    peer.socket.terminate();
    const again = await server.nextPeer();
    expect((await again.next()).data).toEqual({ rooms: [{ room: 'lobby' }] });
  });

  it('presence() sends room and countOnly, and resolves with the reply', async () => {
    const peer = await connected();
    const asking = client.presence('lobby');
    const request = await peer.next();
    expect(request).toMatchObject({ event: 'presence' });
    expect(request.data).toEqual({ room: 'lobby' });
    const reply = {
      room: 'lobby',
      members: [{ ...alice, connections: 1 }],
      count: 1,
    };
    peer.reply(request, reply);
    expect(await asking).toEqual(reply);

    const counting = client.presence('lobby', { countOnly: true });
    const countRequest = await peer.next();
    expect(countRequest.data).toEqual({ room: 'lobby', countOnly: true });
    peer.reply(countRequest, { room: 'lobby', count: 1 });
    expect(await counting).toEqual({ room: 'lobby', count: 1 });

    const refused = client.presence('secret');
    peer.error(await peer.next(), 'FORBIDDEN', 'only members');
    await expect(refused).rejects.toMatchObject({
      code: 'FORBIDDEN',
      event: 'presence',
    });
    // presence() joins nothing and keeps no list.
    expect(client.rooms).toEqual([]);
    expect(client.members('lobby')).toBeUndefined();
  });

  it('a room counted since its join that is listed again asks for the view, once', async () => {
    const peer = await connected();
    await joinedWithPresence(peer, 'hall', { count: 1500 });
    expect(client.members('hall')).toEqual({ count: 1500 });
    // The room shrank: the server diffs against a list this client never had.
    peer.presence({
      room: 'hall',
      joined: [carol],
      left: [{ id: 'x', info: {} }],
    });
    peer.presence({ room: 'hall', joined: [], left: [alice] });
    const request = await peer.next();
    expect(request).toMatchObject({
      event: 'presence',
      data: { room: 'hall' },
    });
    peer.reply(request, {
      room: 'hall',
      members: [alice, bob, carol],
      count: 3,
    });
    await until(() => events.length === 2);
    // The view, then the push held while it was awaited.
    expect(events[1]).toMatchObject({
      cause: 'refresh',
      members: [bob, carol],
      count: 2,
    });
    await barrier(client, peer); // no second presence request came before the echo
  });
});
