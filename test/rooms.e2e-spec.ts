import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { RoomsService } from '../src/gateway/rooms/rooms.service.js';
import { eventually } from './support/eventually.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

describe('rooms on one instance (e2e)', () => {
  let gateway: RunningApp;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;

  beforeAll(async () => {
    gateway = await startApp({ gateway: { maxRoomsPerConnection: 3 } });
  });
  afterAll(async () => {
    await gateway.close();
  });
  beforeEach(async () => {
    [alice, bob, carol] = await Promise.all(
      [1, 2, 3].map(() => connect(gateway.wsUrl, { token: TEST_TOKEN })),
    );
  });
  afterEach(async () => {
    await Promise.all([alice, bob, carol].map((c) => c.close()));
    const rooms = gateway.app.get(RoomsService);
    await eventually(() => rooms.roomCount === 0, 'every room to be left');
  });

  it('join answers with the room, its position and the id', async () => {
    expect(await alice.request('join', { room: 'fresh' }, 'j1')).toEqual({
      event: 'join',
      data: {
        room: 'fresh',
        offset: 0,
        epoch: expect.stringMatching(/^[\w-]+$/),
      },
      id: 'j1',
    });
  });

  it('publish reaches every member but the sender, and nobody else', async () => {
    await alice.request('join', { room: 'lobby' }, 1);
    await bob.request('join', { room: 'lobby' }, 1);
    const ack = await alice.request(
      'publish',
      { room: 'lobby', data: { text: 'hello room' } },
      'p1',
    );
    const joined = await carol.request('join', { room: 'elsewhere' }, 1);
    expect(ack).toEqual({
      event: 'publish',
      data: {
        room: 'lobby',
        recipients: 1,
        instances: 1,
        offset: expect.any(Number),
        epoch: expect.any(String),
      },
      id: 'p1',
    });
    const push = await bob.nextJson();
    expect(push.event).toBe('message');
    const { offset, epoch } = ack.data as { offset: number; epoch: string };
    expect(push.data).toEqual({
      room: 'lobby',
      from: expect.any(String),
      data: { text: 'hello room' },
      offset,
    });
    expect(epoch).not.toBe((joined.data as { epoch: string }).epoch);
    expect(typeof (push.data as { from: unknown }).from).toBe('string');
    await alice.expectSilence(150);
    await carol.expectSilence(150);
  });

  it('a non-member may publish to a room', async () => {
    await bob.request('join', { room: 'news' }, 1);
    const ack = await carol.request(
      'publish',
      { room: 'news', data: 'extra' },
      2,
    );
    expect(ack.data).toEqual({
      room: 'news',
      recipients: 1,
      instances: 1,
      offset: 1,
      epoch: expect.any(String),
    });
    expect((await bob.nextJson()).data).toMatchObject({
      room: 'news',
      data: 'extra',
      offset: 1,
    });
  });

  it('leave stops delivery', async () => {
    await bob.request('join', { room: 'lobby' }, 1);
    expect(await bob.request('leave', { room: 'lobby' }, 2)).toEqual({
      event: 'leave',
      data: { room: 'lobby' },
      id: 2,
    });
    const ack = await alice.request(
      'publish',
      { room: 'lobby', data: 'anyone?' },
      3,
    );
    expect(ack.data).toMatchObject({
      room: 'lobby',
      recipients: 0,
      instances: 1,
    });
    await bob.expectSilence(150);
  });

  it('a member of several rooms gets each room’s messages, labelled', async () => {
    await bob.request('join', { room: 'a' }, 1);
    await bob.request('join', { room: 'b' }, 2);
    await alice.request('publish', { room: 'a', data: 1 }, 3);
    await alice.request('publish', { room: 'b', data: 2 }, 4);
    expect((await bob.nextJson()).data).toMatchObject({ room: 'a', data: 1 });
    expect((await bob.nextJson()).data).toMatchObject({ room: 'b', data: 2 });
  });

  it('joining twice delivers once', async () => {
    await bob.request('join', { room: 'dup' }, 1);
    await bob.request('join', { room: 'dup' }, 2);
    await alice.request('publish', { room: 'dup', data: 'once' }, 3);
    expect((await bob.nextJson()).data).toMatchObject({ data: 'once' });
    await bob.expectSilence(150);
  });

  it.each([
    ['no room', {}],
    ['an empty name', { room: '' }],
    ['a space', { room: 'two words' }],
    ['a name too long', { room: 'r'.repeat(129) }],
    ['a number', { room: 42 }],
  ])('refuses %s with BAD_REQUEST naming the field', async (_, data) => {
    const frame = await alice.request('join', data, 'bad');
    expect(frame).toMatchObject({
      event: 'error',
      id: 'bad',
      data: { code: 'BAD_REQUEST' },
    });
    expect(
      (frame.data as { details: Array<{ field: string }> }).details.map(
        (d) => d.field,
      ),
    ).toContain('room');
  });

  it('limits the rooms a connection may be in', async () => {
    for (const room of ['r1', 'r2', 'r3'])
      await alice.request('join', { room }, room);
    const frame = await alice.request('join', { room: 'r4' }, 'r4');
    expect(frame).toEqual({
      event: 'error',
      data: {
        code: 'FORBIDDEN',
        message: 'a connection may be in at most 3 rooms',
      },
      id: 'r4',
    });
    await alice.request('leave', { room: 'r1' }, 'l1');
    expect((await alice.request('join', { room: 'r4' }, 'r4b')).event).toBe(
      'join',
    );
  });

  it('forgets the rooms of a connection that closes', async () => {
    const rooms = gateway.app.get(RoomsService);
    await alice.request('join', { room: 'x' }, 1);
    await alice.request('join', { room: 'y' }, 2);
    await bob.request('join', { room: 'x' }, 3);
    expect(rooms.roomCount).toBe(2);
    alice.socket.terminate();
    await eventually(
      () => rooms.roomCount === 1 && rooms.memberCount('x') === 1,
      'alice to leave x and y',
    );
  });
});

describe('room permissions from grants, configured without code (ROOM_ACL) (e2e)', () => {
  const SECRET = randomBytes(32).toString('base64url');
  let gateway: RunningApp;
  let clients: TestClient[] = [];

  /** A client with a JWT carrying the given scope and claims, or with the static token. */
  async function client(claims?: JWTPayload): Promise<TestClient> {
    const token = claims
      ? await new SignJWT({
          sub: 'someone',
          exp: Math.floor(Date.now() / 1000) + 60,
          ...claims,
        })
          .setProtectedHeader({ alg: 'HS256' })
          .sign(new TextEncoder().encode(SECRET))
      : TEST_TOKEN;
    const c = await connect(gateway.wsUrl, { token });
    clients.push(c);
    return c;
  }

  const forbidden = (message: string, id: string | number) => ({
    event: 'error',
    data: { code: 'FORBIDDEN', message },
    id,
  });

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        auth: {
          tokens: [TEST_TOKEN],
          jwt: {
            secret: SECRET,
            publicKey: undefined,
            jwksUrl: undefined,
            issuer: undefined,
            audience: undefined,
          },
        },
        roomAcl: { claim: 'rooms', grants: ['join:public/*'] },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    const rooms = gateway.app.get(RoomsService);
    await eventually(() => rooms.roomCount === 0, 'every room to be left');
  });

  it('rooms:<action>:<pattern> scopes allow what they name; the rest is FORBIDDEN, connection open', async () => {
    const writer = await client({
      scope: 'chat rooms:join:chat/* rooms:publish:chat/lobby',
    });
    const reader = await client({ scope: 'rooms:join:chat/*' });
    expect(await writer.request('join', { room: 'chat/lobby' }, 'j1')).toEqual({
      event: 'join',
      data: { room: 'chat/lobby', offset: 0, epoch: expect.any(String) },
      id: 'j1',
    });
    await reader.request('join', { room: 'chat/lobby' }, 'j2');
    await reader.request('join', { room: 'chat/random' }, 'j3');
    expect(await writer.request('join', { room: 'admin' }, 'j4')).toEqual(
      forbidden('not allowed to join room "admin"', 'j4'),
    );

    expect(
      (
        await writer.request(
          'publish',
          { room: 'chat/lobby', data: 'hello' },
          'p1',
        )
      ).data,
    ).toEqual({
      room: 'chat/lobby',
      recipients: 1,
      instances: 1,
      offset: 1,
      epoch: expect.any(String),
    });
    expect((await reader.nextJson()).data).toMatchObject({ data: 'hello' });

    // Publish to a room it may join but not publish to: refused, nothing delivered.
    expect(
      await writer.request(
        'publish',
        { room: 'chat/random', data: 'sneaky' },
        'p2',
      ),
    ).toEqual(forbidden('not allowed to publish to room "chat/random"', 'p2'));
    expect(
      await reader.request('publish', { room: 'chat/lobby', data: 'x' }, 'p3'),
    ).toEqual(forbidden('not allowed to publish to room "chat/lobby"', 'p3'));
    await reader.expectSilence(150);
    await writer.expectSilence(150);
    expect(await writer.request('echo', 'still open', 'e1')).toMatchObject({
      data: 'still open',
    });
  });

  it('grants listed in the claim count like scopes', async () => {
    const p = await client({ rooms: ['join:news/*', 'publish:news/tips'] });
    expect((await p.request('join', { room: 'news/today' }, 1)).event).toBe(
      'join',
    );
    expect(
      (await p.request('publish', { room: 'news/tips', data: 1 }, 2)).event,
    ).toBe('publish');
    expect(await p.request('join', { room: 'chat/lobby' }, 3)).toEqual(
      forbidden('not allowed to join room "chat/lobby"', 3),
    );
  });

  it('a static token has only the common grants (ROOM_ACL_GRANTS)', async () => {
    const holder = await client();
    expect(
      (await holder.request('join', { room: 'public/hall' }, 1)).event,
    ).toBe('join');
    expect(
      await holder.request('join', { room: 'chat/lobby' }, 2),
    ).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' }, id: 2 });
    expect(
      await holder.request('publish', { room: 'public/hall', data: 'hi' }, 3),
    ).toMatchObject({ event: 'error', data: { code: 'FORBIDDEN' }, id: 3 });
    const rooms = gateway.app.get(RoomsService);
    expect(rooms.memberCount('public/hall')).toBe(1);
    expect(rooms.memberCount('chat/lobby')).toBe(0);
  });
});

describe('ROOM_ACL with only static tokens and no common grants (e2e)', () => {
  it('warns at boot that every join and publish will be FORBIDDEN, and they are', async () => {
    const warnings: string[] = [];
    const spy = vi
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => {
        warnings.push(String(message));
      });
    let gateway: RunningApp | undefined;
    try {
      gateway = await startApp({
        gateway: { roomAcl: { claim: undefined, grants: undefined } },
      });
    } finally {
      spy.mockRestore();
    }
    try {
      expect(warnings.filter((w) => w.includes('room ACL'))).toHaveLength(1);
      const c = await connect(gateway.wsUrl, { token: TEST_TOKEN });
      expect(await c.request('join', { room: 'lobby' }, 1)).toMatchObject({
        event: 'error',
        data: { code: 'FORBIDDEN' },
        id: 1,
      });
      await c.close();
    } finally {
      await gateway.close();
    }
  });
});
