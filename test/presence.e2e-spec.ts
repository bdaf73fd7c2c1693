import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { GatewayClient, type PresenceEvent } from '../src/client/index.js';
import type { GatewayConfig } from '../src/config/gateway.config.js';
import { ClientProbeGateway } from './support/client-probe.gateway.js';
import { nextEvent } from './support/client-events.js';
import { eventually } from './support/eventually.js';
import {
  applied,
  ids,
  PresencePeer,
  type DiffMember,
} from './support/presence-peer.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { startApp, type RunningApp } from './support/start-app.js';
import { connect, type Frame, type TestClient } from './support/ws-client.js';

/** The default tick (PRESENCE_TICK_MS). */
const TICK_MS = 200;

/** `n` distinct static tokens: the i-th (from 0) is the principal `token-<i+1>`. */
const staticTokens = (n: number, tag = randomBytes(4).toString('hex')) =>
  Array.from({ length: n }, (_, i) => `presence-${tag}-${i + 1}`);

/** A static token's principal. */
const subjectOf = (index: number) => `token-${index + 1}`;

/** An HS256 JWT of `sub`, valid for a minute, with the claims given. */
function jwt(secret: string, sub: string, claims: JWTPayload = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
    .sign(new TextEncoder().encode(secret));
}

/** JWT options as the app's config carries them. */
const jwtConfig = (secret: string) =>
  ({
    secret,
    publicKey: undefined,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
  }) as NonNullable<GatewayConfig['auth']['jwt']>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('presence on one instance (e2e)', () => {
  const tokens = staticTokens(8);
  let gateway: RunningApp;
  const peers: PresencePeer[] = [];
  const clients: GatewayClient[] = [];

  const peer = async (index: number) => {
    const p = await PresencePeer.open(gateway.wsUrl, tokens[index]);
    peers.push(p);
    return p;
  };

  beforeAll(async () => {
    gateway = await startApp({
      providers: [ClientProbeGateway],
      gateway: { auth: { tokens } },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });
  afterEach(async () => {
    await Promise.all([
      ...peers.splice(0).map((p) => p.close()),
      ...clients.splice(0).map((c) => c.close()),
    ]);
  });

  it('join with presence lists the members with their connection counts; presence and countOnly answer the same', async () => {
    const alice = await peer(0);
    const aliceAgain = await peer(0);
    const bob = await peer(1);
    await alice.call('join', { room: 'basics' });
    await aliceAgain.call('join', { room: 'basics' });
    const joined = await bob.call<{ presence: unknown }>('join', {
      room: 'basics',
      presence: true,
    });
    expect(joined).toMatchObject({ room: 'basics' });
    const expected = [
      { id: subjectOf(0), info: {}, connections: 2 },
      { id: subjectOf(1), info: {}, connections: 1 },
    ];
    const byId = (a: { id: string }, b: { id: string }) =>
      a.id.localeCompare(b.id);
    const view = joined.presence as { members: typeof expected; count: number };
    expect(view.count).toBe(2);
    expect([...view.members].sort(byId)).toEqual(expected);

    const reply = await alice.call<{ members: typeof expected }>('presence', {
      room: 'basics',
    });
    expect(reply).toEqual({
      room: 'basics',
      members: expect.any(Array) as unknown,
      count: 2,
    });
    expect([...reply.members].sort(byId)).toEqual(expected);
    expect(
      await alice.call('presence', { room: 'basics', countOnly: true }),
    ).toEqual({ room: 'basics', count: 2 });
  });

  it('a presence request of a non-member is FORBIDDEN by default; a member is answered, and refused again after leaving', async () => {
    const member = await peer(0);
    const outsider = await peer(1);
    await member.call('join', { room: 'private' });
    const refusal = {
      event: 'error',
      data: {
        code: 'FORBIDDEN',
        message: 'only members of room "private" may see who is in it',
      },
    };
    expect(await outsider.request('presence', { room: 'private' })).toEqual(
      expect.objectContaining(refusal),
    );
    expect(
      await outsider.request('presence', { room: 'private', countOnly: true }),
    ).toEqual(expect.objectContaining(refusal));
    expect(
      await member.call('presence', { room: 'private', countOnly: true }),
    ).toEqual({ room: 'private', count: 1 });
    await member.call('leave', { room: 'private' });
    expect(await member.request('presence', { room: 'private' })).toEqual(
      expect.objectContaining(refusal),
    );
  });

  it('diffs: a member joins with its first connection and leaves with its last; a leave and a return within a tick is in neither list', async () => {
    const watcher = await peer(0);
    const bob = await peer(1);
    const bobAgain = await peer(1);
    const carol = await peer(2);
    await watcher.call('join', { room: 'diffs', presence: true });

    await bob.call('join', { room: 'diffs' });
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [{ id: subjectOf(1), info: {} }],
      left: [],
    });
    await bobAgain.call('join', { room: 'diffs' });
    await bobAgain.call('leave', { room: 'diffs' });
    await watcher.expectNoPush(3 * TICK_MS);

    // Within one tick: carol comes and goes, bob goes and comes back.
    await Promise.all([
      carol.call('join', { room: 'diffs' }),
      bob.call('leave', { room: 'diffs' }),
    ]);
    await Promise.all([
      carol.call('leave', { room: 'diffs' }),
      bob.call('join', { room: 'diffs' }),
    ]);
    await watcher.expectNoPush(3 * TICK_MS);

    await bob.close();
    expect(await watcher.nextPush()).toEqual({
      room: 'diffs',
      joined: [],
      left: [{ id: subjectOf(1), info: {} }],
    });
  });

  it('GatewayClient: members(room) follows the joins and leaves of others; after a drop the resume with presence makes the list right again', async () => {
    // The token is asked before every attempt: holding it holds the reconnection, so that the
    // room changes while the client is away.
    let gate: Promise<void> = Promise.resolve();
    let release: () => void = () => undefined;
    const alice = new GatewayClient({
      url: gateway.wsUrl,
      token: async () => {
        await gate;
        return tokens[0];
      },
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    clients.push(alice);
    await alice.connect();
    const events: PresenceEvent[] = [];
    alice.on('presence', (event) => events.push(event));
    const listed = () => ids(alice.members('lobby')?.members);
    const [erin, bob, carol, dave, frank] = await Promise.all(
      [4, 1, 2, 3, 5].map((i) => peer(i)),
    );
    const [A, B, C, , E, F] = [0, 1, 2, 3, 4, 5].map(subjectOf);

    const reply = await alice.join('lobby', { presence: true });
    expect(reply.presence).toEqual({
      members: [{ id: A, info: {}, connections: 1 }],
      count: 1,
    });
    expect(alice.members('lobby')).toEqual({
      members: [{ id: A, info: {}, connections: 1 }],
      count: 1,
    });
    expect(events).toEqual([
      {
        room: 'lobby',
        cause: 'join',
        members: [{ id: A, info: {}, connections: 1 }],
        count: 1,
        joined: [{ id: A, info: {}, connections: 1 }],
        left: [],
      },
    ]);

    await erin.call('join', { room: 'lobby' });
    await bob.call('join', { room: 'lobby' });
    await eventually(
      () => listed().join() === [A, B, E].sort().join(),
      'bob and erin in the list',
    );
    await bob.call('leave', { room: 'lobby' });
    await eventually(
      () => listed().join() === [A, E].sort().join(),
      'bob gone from the list',
    );
    expect(events.slice(1).every((e) => e.cause === 'push')).toBe(true);
    expect(alice.members('lobby')?.count).toBe(2);

    // The drop: the server closes with 1013, the client will reconnect when the gate opens.
    gate = new Promise((resolve) => {
      release = resolve;
    });
    const closed = nextEvent(alice, 'close');
    alice.send('client-probe.close', { code: 1013, reason: 'go away' });
    expect(await closed).toMatchObject({ code: 1013, willReconnect: true });

    await erin.call('leave', { room: 'lobby' });
    await carol.call('join', { room: 'lobby' });
    await dave.call('join', { room: 'lobby' });
    await dave.call('leave', { room: 'lobby' });
    // Until the resume, the list from before the drop.
    expect(listed()).toEqual([A, E].sort());

    const before = events.length;
    const reconnected = nextEvent(alice, 'reconnected');
    release();
    expect((await reconnected).rooms).toEqual(['lobby']);
    const resumed = events.slice(before);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({
      room: 'lobby',
      cause: 'resume',
      count: 2,
      joined: [{ id: C, info: {}, connections: 1 }],
      left: [{ id: E, info: {} }],
    });
    expect(listed()).toEqual([A, C].sort());
    expect(
      alice.members('lobby')?.members?.find((m) => m.id === A)?.connections,
    ).toBe(1);

    // Pushes flow to the new connection.
    await frank.call('join', { room: 'lobby' });
    await eventually(
      () => listed().join() === [A, C, F].sort().join(),
      'frank in the list after the reconnection',
    );
    await carol.close();
    await eventually(
      () => listed().join() === [A, F].sort().join(),
      'carol gone after closing',
    );
    expect(events.at(-1)).toMatchObject({
      cause: 'push',
      left: [{ id: C }],
      joined: [],
    });

    // Leaving forgets the list.
    await alice.leave('lobby');
    expect(alice.members('lobby')).toBeUndefined();
  });
});

describe('presence of a room past PRESENCE_MAX_MEMBERS (e2e)', () => {
  const tokens = staticTokens(7);
  let gateway: RunningApp;
  const peers: PresencePeer[] = [];

  beforeAll(async () => {
    gateway = await startApp({
      gateway: { auth: { tokens }, presence: { maxMembers: 3 } },
    });
    for (const token of tokens)
      peers.push(await PresencePeer.open(gateway.wsUrl, token));
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await gateway.close();
  });

  it('a room of more than maxMembers is counted: replies carry count only, subscribers get {room, count} per tick when it changed', async () => {
    const [watcher, ...others] = peers;
    const joined = await watcher.call<{ presence: unknown }>('join', {
      room: 'big',
      presence: true,
    });
    expect(joined.presence).toEqual({
      members: [{ id: subjectOf(0), info: {}, connections: 1 }],
      count: 1,
    });
    // Up to maxMembers (3): listed, diffs.
    await others[0].call('join', { room: 'big' });
    await others[1].call('join', { room: 'big' });
    await watcher.waitFor(
      (pushes) => applied([{ id: subjectOf(0) }], pushes).length === 3,
      'three members listed',
    );
    const listedPushes = watcher.pushes.length;
    expect(watcher.pushes.every((p) => Array.isArray(p.data.joined))).toBe(
      true,
    );
    expect(
      (await watcher.call<{ members?: unknown[] }>('presence', { room: 'big' }))
        .members,
    ).toHaveLength(3);

    // Past it: counted.
    await others[2].call('join', { room: 'big' });
    await others[3].call('join', { room: 'big' });
    await watcher.waitFor(
      (pushes) => pushes.at(-1)?.data.count === 5,
      'the count 5',
    );
    const counted = watcher.pushes.slice(listedPushes).map((p) => p.data);
    for (const push of counted)
      expect(Object.keys(push).sort()).toEqual(['count', 'room']);
    expect(counted.at(-1)).toEqual({ room: 'big', count: 5 });
    // At most one per tick, and not one per member: 4 then 5, or 5 at once.
    expect(counted.length).toBeLessThanOrEqual(2);

    expect(await watcher.call('presence', { room: 'big' })).toEqual({
      room: 'big',
      count: 5,
    });
    expect(
      await others[0].call('presence', { room: 'big', countOnly: true }),
    ).toEqual({ room: 'big', count: 5 });
    const late = await others[4].call<{ presence: unknown }>('join', {
      room: 'big',
      presence: true,
    });
    expect(late.presence).toEqual({ count: 6 });
    await watcher.waitFor(
      (pushes) => pushes.at(-1)?.data.count === 6,
      'the count 6',
    );

    // A leave is counted too, and a tick without a change of count sends nothing.
    await others[3].call('leave', { room: 'big' });
    await watcher.waitFor(
      (pushes) => pushes.at(-1)?.data.count === 5,
      'the count back to 5',
    );
    expect(watcher.pushes.at(-1)?.data).toEqual({ room: 'big', count: 5 });
    await others[4].waitFor(
      (pushes) => pushes.at(-1)?.data.count === 5,
      'the late subscriber to get the count 5',
    );
    for (const push of [
      ...watcher.pushes.slice(listedPushes),
      ...others[4].pushes,
    ])
      expect(Object.keys(push.data).sort()).toEqual(['count', 'room']);
    await watcher.expectNoPush(3 * TICK_MS);
  });

  it('a counted room that shrinks back to maxMembers is listed again with a diff against the last list, even when it holds the same members', async () => {
    const [watcher, ...others] = peers;
    // The watcher is in the room of the test before: only this room's pushes.
    const shrink = () => watcher.pushes.filter((p) => p.data.room === 'shrink');
    const listed = () => applied([{ id: subjectOf(0) }], shrink());
    const first = [0, 1, 2].map(subjectOf);
    await watcher.call('join', { room: 'shrink', presence: true });
    await others[0].call('join', { room: 'shrink' });
    await others[1].call('join', { room: 'shrink' });
    await watcher.waitFor(
      () => listed().join() === first.join(),
      'three members listed',
    );

    await others[2].call('join', { room: 'shrink' });
    await watcher.waitFor(
      () => shrink().at(-1)?.data.count === 4,
      'the count 4',
    );
    const pushed = shrink().length;
    // Back to the members last listed.
    await others[2].call('leave', { room: 'shrink' });
    await watcher.waitFor(
      () => shrink().length > pushed,
      'the room to be listed again',
    );
    expect(
      shrink()
        .slice(pushed)
        .map((p) => p.data),
    ).toEqual([{ room: 'shrink', joined: [], left: [] }]);
    expect(listed()).toEqual(first);

    // And with other members than it last listed: the diff says who changed.
    await others[2].call('join', { room: 'shrink' });
    await watcher.waitFor(
      () => shrink().at(-1)?.data.count === 4,
      'the count 4 again',
    );
    await others[0].call('leave', { room: 'shrink' });
    await watcher.waitFor(
      () => Array.isArray(shrink().at(-1)?.data.joined),
      'a diff',
    );
    expect(shrink().at(-1)?.data).toEqual({
      room: 'shrink',
      joined: [{ id: subjectOf(3), info: {} }],
      left: [{ id: subjectOf(1), info: {} }],
    });
  });

  it('GatewayClient: members(room) is {count} while the room is counted and a list again once it shrinks, for a client that joined it listed or counted', async () => {
    const room = 'client-big';
    const listedClient = new GatewayClient({
      url: gateway.wsUrl,
      token: tokens[0],
      reconnect: false,
    });
    const countedClient = new GatewayClient({
      url: gateway.wsUrl,
      token: tokens[5],
      reconnect: false,
    });
    try {
      await listedClient.connect();
      await countedClient.connect();
      const causes: string[] = [];
      countedClient.on('presence', (event) => causes.push(event.cause));
      await listedClient.join(room, { presence: true });
      const [, b, c, d] = peers;
      await b.call('join', { room });
      await c.call('join', { room });
      await eventually(
        () => listedClient.members(room)?.members?.length === 3,
        'three members listed',
      );
      await d.call('join', { room });
      await eventually(
        () => listedClient.members(room)?.count === 4,
        'the count 4',
      );
      expect(listedClient.members(room)).toEqual({ count: 4 });
      // Joined while counted: no list to go on from.
      await countedClient.join(room, { presence: true });
      expect(countedClient.members(room)).toEqual({ count: 5 });
      await eventually(
        () => listedClient.members(room)?.count === 5,
        'the count 5',
      );

      // Back to the members listed last (alice, b, c) for the first client.
      await d.call('leave', { room });
      await countedClient.leave(room);
      const expected = [0, 1, 2].map(subjectOf);
      await eventually(
        () =>
          ids(listedClient.members(room)?.members).join() === expected.join(),
        'the first client to list the room again',
      );
      expect(listedClient.members(room)?.count).toBe(3);

      // The second one, joined counted, asks for the view once the room is listed again.
      await countedClient.join(room, { presence: true });
      await d.call('join', { room });
      await eventually(
        () => countedClient.members(room)?.count === 5,
        'the count 5 again',
      );
      await d.call('leave', { room });
      await b.call('leave', { room });
      await eventually(
        () =>
          ids(countedClient.members(room)?.members).join() ===
          [0, 2, 5].map(subjectOf).sort().join(),
        'the second client to list the room',
      );
      expect(causes).toContain('refresh');
      await eventually(
        () =>
          ids(listedClient.members(room)?.members).join() ===
          [0, 2, 5].map(subjectOf).sort().join(),
        'the first client to list the room again',
      );
    } finally {
      await Promise.all([listedClient.close(), countedClient.close()]);
      for (const p of peers.slice(1, 4)) await p.call('leave', { room });
    }
  });
});

describe('presence under room permissions (e2e)', () => {
  const secret = randomBytes(32).toString('base64url');
  const tokens = staticTokens(2);
  let gateway: RunningApp;
  const peers: PresencePeer[] = [];

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        auth: { tokens, jwt: jwtConfig(secret) },
        // Every principal may join any room and see who is in open/ rooms; a JWT's `rooms`
        // claim may grant more.
        roomAcl: { claim: undefined, grants: ['join:*', 'presence:open/*'] },
      },
    });
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await gateway.close();
  });

  const open = async (token: string) => {
    const p = await PresencePeer.open(gateway.wsUrl, token);
    peers.push(p);
    return p;
  };

  it('a non-member with the presence grant may ask; without it a member may not; join with presence needs the grant and joins nothing without it', async () => {
    const alice = await open(tokens[0]);
    const watcher = await open(
      await jwt(secret, 'watcher', { rooms: ['presence:*'] }),
    );
    const forbidden = (room: string) => ({
      event: 'error',
      data: {
        code: 'FORBIDDEN',
        message: `not allowed to see who is in room "${room}"`,
      },
      id: expect.any(String) as unknown,
    });

    // open/ rooms: the grant lets a non-member ask.
    await alice.call('join', { room: 'open/hall' });
    expect(
      await open(tokens[1]).then((bob) =>
        bob.call('presence', { room: 'open/hall' }),
      ),
    ).toEqual({
      room: 'open/hall',
      members: [{ id: subjectOf(0), info: {}, connections: 1 }],
      count: 1,
    });
    expect(
      await alice.call('join', { room: 'open/lobby', presence: true }),
    ).toMatchObject({
      presence: {
        members: [{ id: subjectOf(0), info: {}, connections: 1 }],
        count: 1,
      },
    });

    // closed/ rooms: no presence grant for static tokens.
    expect(
      await alice.request('join', { room: 'closed/x', presence: true }),
    ).toEqual(forbidden('closed/x'));
    // Refused before joining: nobody is in the room.
    expect(await watcher.call('presence', { room: 'closed/x' })).toEqual({
      room: 'closed/x',
      members: [],
      count: 0,
    });
    // A member without the grant may not see who is in it either: the grant decides.
    await alice.call('join', { room: 'closed/x' });
    expect(await alice.request('presence', { room: 'closed/x' })).toEqual(
      forbidden('closed/x'),
    );
    expect(
      await alice.request('presence', { room: 'closed/x', countOnly: true }),
    ).toEqual(forbidden('closed/x'));
    // The watcher's own grant lets it see, and join with presence.
    expect(await watcher.call('presence', { room: 'closed/x' })).toEqual({
      room: 'closed/x',
      members: [{ id: subjectOf(0), info: {}, connections: 1 }],
      count: 1,
    });
    expect(
      await watcher.call('join', { room: 'closed/x', presence: true }),
    ).toMatchObject({ presence: { count: 2 } });

    // resume asks the same grant, room by room.
    const resumed = await alice.call<{ rooms: unknown[] }>('resume', {
      rooms: [
        { room: 'closed/y', presence: true },
        { room: 'open/y', presence: true },
      ],
    });
    expect(resumed.rooms[0]).toEqual({
      room: 'closed/y',
      error: {
        code: 'FORBIDDEN',
        message: 'not allowed to see who is in room "closed/y"',
      },
    });
    expect(resumed.rooms[1]).toMatchObject({
      room: 'open/y',
      presence: {
        members: [{ id: subjectOf(0), info: {}, connections: 1 }],
        count: 1,
      },
    });
    expect(await watcher.call('presence', { room: 'closed/y' })).toEqual({
      room: 'closed/y',
      members: [],
      count: 0,
    });
  });
});

describe('presence info from PRESENCE_INFO_CLAIMS (e2e, the built service)', () => {
  const secret = randomBytes(32).toString('base64url');
  let gateway: SpawnedGateway;
  const peers: PresencePeer[] = [];

  beforeAll(async () => {
    gateway = await spawnGateway({
      AUTH_JWT_SECRET: secret,
      PRESENCE_INFO_CLAIMS: 'name',
    });
  });
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await gateway.stop();
  });

  it('members carry {name} from the JWT, and nothing else of the token', async () => {
    const url = `ws://127.0.0.1:${gateway.port}/`;
    const claims = {
      email: 'alice@example.com',
      scope: 'admin rooms:join:*',
      rooms: ['publish:*'],
      picture: 'https://example.com/a.png',
    };
    const aliceToken = await jwt(secret, 'alice', { name: 'Alice', ...claims });
    const alice = new PresencePeer(await connect(url, { token: aliceToken }));
    peers.push(alice);
    const bob = new PresencePeer(
      await connect(url, { token: await jwt(secret, 'bob', claims) }),
    );
    peers.push(bob);
    const carol = new PresencePeer(
      await connect(url, {
        token: await jwt(secret, 'carol', { name: 'Carol', ...claims }),
      }),
    );
    peers.push(carol);

    const joined = await alice.request('join', {
      room: 'named',
      presence: true,
    });
    expect((joined.data as { presence: unknown }).presence).toEqual({
      members: [{ id: 'alice', info: { name: 'Alice' }, connections: 1 }],
      count: 1,
    });
    await bob.call('join', { room: 'named' });
    await carol.call('join', { room: 'named' });
    await alice.waitFor(
      (pushes) => applied([{ id: 'alice' }], pushes).length === 3,
      'bob and carol to join',
    );
    const diffed: DiffMember[] = alice.pushes.flatMap(
      (p) => p.data.joined ?? [],
    );
    expect(diffed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'bob', info: {} },
      { id: 'carol', info: { name: 'Carol' } },
    ]);
    const reply = await bob.request('presence', { room: 'named' });
    const members = (reply.data as { members: DiffMember[] }).members;
    expect(members.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'alice', info: { name: 'Alice' }, connections: 1 },
      { id: 'bob', info: {}, connections: 1 },
      { id: 'carol', info: { name: 'Carol' }, connections: 1 },
    ]);
    // Nothing of the token anywhere in what a subscriber or asker receives.
    const seen = JSON.stringify([joined, alice.pushes, reply]);
    for (const secretish of [
      aliceToken,
      'alice@example.com',
      'admin',
      'publish:*',
      'example.com/a.png',
    ])
      expect(seen).not.toContain(secretish);
  });
});

describe('a presence storm on one instance (e2e)', () => {
  const MEMBERS = 1_000;
  const SUBSCRIBERS = 3;
  const tokens = staticTokens(MEMBERS + SUBSCRIBERS);
  let gateway: RunningApp;
  let members: TestClient[] = [];
  let subscribers: PresencePeer[] = [];

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        auth: { tokens },
        // The 3 subscribers are members too: 1,003 are listed, not counted.
        presence: { maxMembers: 2 * MEMBERS },
      },
    });
  }, 30_000);
  afterAll(async () => {
    await Promise.all(
      [...members, ...subscribers.map((s) => s.client)].map((c) => c.close()),
    );
    await gateway.close();
  }, 30_000);

  it(
    `1,000 principals joining one room within about a second: each of 3 subscribers gets at most (storm seconds)/tick + 2 presence frames, whose joined lists hold each of the 1,000 exactly once`,
    { timeout: 30_000 },
    async () => {
      // Connected before the storm: the storm is the joins.
      for (let i = 0; i < MEMBERS; i += 100)
        members.push(
          ...(await Promise.all(
            tokens
              .slice(i, Math.min(i + 100, MEMBERS))
              .map((token) => connect(gateway.wsUrl, { token })),
          )),
        );
      subscribers = [];
      for (const token of tokens.slice(MEMBERS)) {
        const s = await PresencePeer.open(gateway.wsUrl, token);
        await s.call('join', { room: 'storm', presence: true });
        subscribers.push(s);
      }
      // The subscribers' own joins are diffs too: let them pass, then count from the storm on.
      await sleep(3 * TICK_MS);
      for (const s of subscribers) s.pushes.length = 0;

      // The storm: 20 waves of 50 joins, 50 ms apart, so about a second of joins.
      const started = Date.now();
      const replies: Promise<Frame>[] = [];
      for (let wave = 0; wave < 20; wave++) {
        if (wave > 0) await sleep(50);
        for (const member of members.slice(wave * 50, (wave + 1) * 50)) {
          member.sendJson({ event: 'join', data: { room: 'storm' }, id: 'j' });
          replies.push(member.nextJson(10_000));
        }
      }
      expect(
        (await Promise.all(replies)).every((r) => r.event === 'join'),
      ).toBe(true);
      const joinedIn = Date.now() - started;
      expect(joinedIn).toBeLessThan(3_000);

      const expected = tokens.slice(0, MEMBERS).map((_, i) => subjectOf(i));
      await Promise.all(
        subscribers.map((s) =>
          s.waitFor(
            (pushes) =>
              pushes.reduce((n, p) => n + (p.data.joined?.length ?? 0), 0) >=
              MEMBERS,
            'every member to be joined',
            10_000,
          ),
        ),
      );
      // Anything more would come within a tick or two.
      await sleep(3 * TICK_MS);

      const report: string[] = [];
      for (const [n, s] of subscribers.entries()) {
        const joined = s.pushes.flatMap((p) => p.data.joined ?? []);
        const left = s.pushes.flatMap((p) => p.data.left ?? []);
        expect(left).toEqual([]);
        expect(joined.map((m) => m.id).sort()).toEqual([...expected].sort());
        expect(joined.every((m) => Object.keys(m.info).length === 0)).toBe(
          true,
        );
        const seconds = (s.pushes.at(-1)!.at - started) / 1_000;
        const bound = Math.floor(seconds / (TICK_MS / 1_000)) + 2;
        report.push(
          `subscriber ${n + 1}: ${s.pushes.length} frames over ${seconds.toFixed(2)} s (bound ${bound}), sizes ${s.pushes
            .map((p) => p.data.joined?.length ?? 0)
            .join('+')}`,
        );
        expect(s.pushes.length).toBeLessThanOrEqual(bound);
        expect(seconds).toBeLessThan(5);
      }
      console.log(
        `presence storm: ${MEMBERS} joins answered in ${joinedIn} ms\n${report.join('\n')}`,
      );
      const union = new Set(
        subscribers.flatMap((s) =>
          s.pushes.flatMap((p) => (p.data.joined ?? []).map((m) => m.id)),
        ),
      );
      expect(union.size).toBe(MEMBERS);
    },
  );
});
