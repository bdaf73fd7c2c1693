import { eventually } from './support/eventually.js';
import {
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { connect, type Frame, type TestClient } from './support/ws-client.js';

const ADMIN_SECRET = 'alice-admin-secret-0123456789';
const VIEWER_SECRET = 'bob-viewer-secret-0123456789';
const CLIENT_TOKENS = [
  'cluster-console-client-one',
  'cluster-console-client-two',
];
const STATS_MS = 200;

interface Instance {
  id: string;
  connections: number;
  bus: string;
  gone: boolean;
}

/** A GET or POST of the console's API with a bearer secret (or a cookie); status and JSON. */
async function api(
  gw: SpawnedGateway,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  auth: Record<string, string> = { Authorization: `Bearer ${ADMIN_SECRET}` },
): Promise<{ status: number; body: any }> {
  const res = await fetch(
    `http://127.0.0.1:${gw.port}/console/api${path}`,
    method === 'POST'
      ? {
          method,
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify(body ?? {}),
        }
      : { method, headers: auth },
  );
  return { status: res.status, body: await res.json() };
}

const instancesOf = async (gw: SpawnedGateway) =>
  (await api(gw, 'GET', '/instances')).body as {
    self: string;
    instances: Instance[];
  };

/** The next frame of `event`, skipping the others (the instances frames of every interval). */
async function nextOf(client: TestClient, event: string): Promise<Frame> {
  for (;;) {
    const frame = await client.nextJson();
    if (frame.event === event) return frame;
  }
}

describe('the web console over two instances sharing one Redis (e2e)', () => {
  let a: SpawnedGateway;
  let b: SpawnedGateway;
  let aId: string;
  let bId: string;
  const clients: TestClient[] = [];

  /** A client of `gw` with the i-th token, seen from `address` (through the trusted proxy). */
  const client = async (gw: SpawnedGateway, address: string, index = 0) => {
    const c = await connect(`ws://127.0.0.1:${gw.port}/`, {
      token: CLIENT_TOKENS[index],
      headers: { 'X-Forwarded-For': address },
    });
    clients.push(c);
    return c;
  };

  /** The connection at `address`, as A's console finds it over the cluster. */
  const foundFromA = async (address: string) => {
    const res = await api(a, 'GET', `/connections?q=${address}`);
    expect(res.status).toBe(200);
    expect(res.body.partial).toBe(false);
    expect(res.body.connections).toHaveLength(1);
    return res.body.connections[0] as {
      id: string;
      instance: string;
      remoteAddress: string;
      rooms: string[];
    };
  };

  beforeAll(async () => {
    const env = {
      AUTH_TOKENS: CLIENT_TOKENS.join(','),
      CONSOLE_TOKENS: `alice:admin:${ADMIN_SECRET},bob:viewer:${VIEWER_SECRET}`,
      CONSOLE_STATS_INTERVAL_MS: String(STATS_MS),
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_CHANNEL_PREFIX: uniqueChannelPrefix(),
      TRUSTED_PROXIES: '127.0.0.1',
      LOG_LEVEL: 'info',
    };
    [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    [aId, bId] = [(await instancesOf(a)).self, (await instancesOf(b)).self];
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop('SIGKILL')]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('lists both instances on each, live, with the bus ready; a session of one is good on the other', async () => {
    for (const gw of [a, b])
      await eventually(async () => {
        const { instances } = await instancesOf(gw);
        return (
          instances.length === 2 &&
          instances.every((i) => !i.gone && i.bus === 'ready')
        );
      }, 'both instances in the list');
    expect((await instancesOf(a)).instances.map((i) => i.id).sort()).toEqual(
      [aId, bId].sort(),
    );

    const login = await fetch(`http://127.0.0.1:${a.port}/console/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: VIEWER_SECRET }),
    });
    const cookie = login.headers.getSetCookie()[0].split(';')[0];
    const onB = await api(b, 'GET', '/session', undefined, { Cookie: cookie });
    expect(onB).toMatchObject({
      status: 200,
      body: { user: 'bob', role: 'viewer' },
    });
  });

  it('ends a session on every instance when it logs out on one', async () => {
    const login = await fetch(`http://127.0.0.1:${a.port}/console/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: VIEWER_SECRET }),
    });
    const cookie = login.headers.getSetCookie()[0].split(';')[0];
    const session = { Cookie: cookie };
    expect((await api(b, 'GET', '/session', undefined, session)).status).toBe(
      200,
    );
    const out = await fetch(`http://127.0.0.1:${a.port}/console/api/logout`, {
      method: 'POST',
      headers: session,
    });
    expect(out.status).toBe(204);
    await eventually(
      async () =>
        (await api(b, 'GET', '/session', undefined, session)).status === 401,
      'B to refuse the session A logged out',
    );
  });

  it("finds a connection held by B from A's console, with B's connection count", async () => {
    const held = await client(b, '198.51.100.21', 1);
    await held.request('join', { room: 'cluster-found' }, 1);
    expect(await foundFromA('198.51.100.21')).toMatchObject({
      instance: bId,
      remoteAddress: '198.51.100.21',
      rooms: ['cluster-found'],
    });
    const byRoom = await api(a, 'GET', '/connections?q=cluster-found');
    expect(byRoom.body.total).toBe(1);
    await eventually(
      async () =>
        (await instancesOf(a)).instances.find((i) => i.id === bId)
          ?.connections === 1,
      "A to hear B's connection count",
    );
  });

  it("A's admin disconnects and sends to a client held by B", async () => {
    const held = await client(b, '198.51.100.22');
    const { id } = await foundFromA('198.51.100.22');
    expect(id.startsWith(`${bId}-`)).toBe(true);
    const sent = await api(a, 'POST', '/send', {
      connectionId: id,
      event: 'notice',
      data: { from: 'A' },
    });
    expect(sent.body).toEqual({ sent: true });
    expect(await held.nextJson()).toEqual({
      event: 'notice',
      data: { from: 'A' },
    });
    const res = await api(a, 'POST', '/disconnect', {
      connectionId: id,
      code: 4444,
      reason: 'closed from A',
    });
    expect(res).toEqual({ status: 200, body: { closed: true } });
    expect(await held.closed).toEqual({ code: 4444, reason: 'closed from A' });
    const again = await api(a, 'POST', '/disconnect', { connectionId: id });
    expect(again.body).toEqual({ closed: false });
  });

  it("A publishes to a room whose members are on B; A's rooms merge both instances' members; A's tail sees B's messages", async () => {
    const onB = await client(b, '198.51.100.23');
    const onA = await client(a, '198.51.100.24', 1);
    await onB.request('join', { room: 'cluster-room' }, 1);
    await onA.request('join', { room: 'cluster-room' }, 1);
    const res = await api(a, 'POST', '/publish', {
      room: 'cluster-room',
      data: { text: 'to both' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ room: 'cluster-room', recipients: 1 });
    for (const member of [onB, onA])
      expect(await member.nextJson()).toMatchObject({
        event: 'message',
        data: {
          room: 'cluster-room',
          from: 'console:alice',
          data: { text: 'to both' },
        },
      });
    const rooms = await api(a, 'GET', '/rooms?q=cluster-room');
    expect(rooms.body).toMatchObject({
      rooms: [{ name: 'cluster-room', members: 2, instances: 2, presence: 2 }],
      total: 1,
      partial: false,
    });

    const tail = await connect(`ws://127.0.0.1:${a.port}/console/ws`, {
      token: ADMIN_SECRET,
    });
    clients.push(tail);
    tail.sendJson({ event: 'tail', data: { room: 'cluster-room' }, id: 1 });
    expect((await nextOf(tail, 'tail')).data).toEqual({ room: 'cluster-room' });
    await onB.request('publish', { room: 'cluster-room', data: 'from B' }, 2);
    expect((await nextOf(tail, 'tail')).data).toMatchObject({
      room: 'cluster-room',
      data: 'from B',
    });
  });

  it("shows B's errors in A's list", async () => {
    const onB = await client(b, '198.51.100.25', 1);
    const { id } = await foundFromA('198.51.100.25');
    await onB.request('no-such-event-on-b', { secret: 'not shown' }, 1);
    const res = await api(a, 'GET', '/errors');
    expect(res.body.partial).toBe(false);
    expect(res.body.errors).toContainEqual({
      at: expect.any(Number),
      instance: bId,
      code: 'UNKNOWN_EVENT',
      event: 'no-such-event-on-b',
      principal: 'token-2',
      connectionId: id,
    });
    expect(JSON.stringify(res.body)).not.toContain('not shown');
  });

  // Last: B does not come back.
  it('marks B gone within a few intervals after it is killed, and stops waiting for it', async () => {
    const held = await client(b, '198.51.100.26');
    const { id } = await foundFromA('198.51.100.26');
    await b.stop('SIGKILL');
    await held.closed;
    await eventually(
      async () =>
        (await instancesOf(a)).instances.find((i) => i.id === bId)?.gone ===
        true,
      'A to mark B gone',
      STATS_MS * 15,
    );
    const self = (await instancesOf(a)).instances.find((i) => i.id === aId);
    expect(self?.gone).toBe(false);
    // A gone instance is not waited for: the lists are whole without it.
    const listed = await api(a, 'GET', '/connections');
    expect(listed).toMatchObject({ status: 200, body: { partial: false } });
    const refused = await api(a, 'POST', '/disconnect', { connectionId: id });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('UNAVAILABLE');
  });
});
