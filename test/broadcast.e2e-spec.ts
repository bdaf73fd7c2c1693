import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { eventually } from './support/eventually.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

describe('broadcast to every other client (e2e)', () => {
  let gateway: RunningApp;
  let clients: TestClient[];

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });
  beforeEach(async () => {
    clients = await Promise.all(
      Array.from({ length: 4 }, () =>
        connect(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('pushes to every other client and acknowledges the sender', async () => {
    const [sender, ...others] = clients;
    const senderId = gateway.app.get(ConnectionRegistry).all()[0].id;
    const ack = await sender.request('broadcast', { text: 'hi all' }, 'b-1');
    expect(ack).toEqual({
      event: 'broadcast',
      data: { recipients: 3, instances: 1 },
      id: 'b-1',
    });
    for (const other of others) {
      expect(await other.nextJson()).toEqual({
        event: 'broadcast',
        data: { from: senderId, data: { text: 'hi all' } },
      });
    }
    await sender.expectSilence(200);
  });

  it('delivers a burst complete and in order to every receiver', async () => {
    const [sender, ...others] = clients;
    const count = 200;
    for (let i = 0; i < count; i++)
      sender.sendJson({ event: 'broadcast', data: i });
    for (const other of others) {
      const received: unknown[] = [];
      for (let i = 0; i < count; i++)
        received.push((await other.nextJson()).data);
      expect(received.map((d) => (d as { data: number }).data)).toEqual(
        Array.from({ length: count }, (_, i) => i),
      );
    }
    const acks = [];
    for (let i = 0; i < count; i++) acks.push(await sender.nextJson());
    expect(
      acks.every(
        (a) =>
          a.event === 'broadcast' &&
          (a.data as { recipients: number }).recipients === 3,
      ),
    ).toBe(true);
  });

  it('broadcasts null when there is no data', async () => {
    const [sender, receiver] = clients;
    sender.sendJson({ event: 'broadcast', id: 2 });
    expect((await receiver.nextJson()).data).toMatchObject({ data: null });
    expect(await sender.nextJson()).toMatchObject({
      event: 'broadcast',
      id: 2,
    });
  });

  it('does not reach clients that have left, and counts only those still here', async () => {
    const [sender, leaving, ...rest] = clients;
    await leaving.close();
    const ack = await sender.request('broadcast', 'after leave', 3);
    expect(ack.data).toEqual({ recipients: rest.length, instances: 1 });
    for (const r of rest) expect((await r.nextJson()).event).toBe('broadcast');
  });
});

describe('many clients at once (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('serves 100 concurrent clients echoing and broadcasting', async () => {
    const clients = await Promise.all(
      Array.from({ length: 100 }, () =>
        connect(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
    const replies = await Promise.all(
      clients.map((c, i) => c.request('echo', { i }, i)),
    );
    replies.forEach((r, i) =>
      expect(r).toEqual({ event: 'echo', data: { i }, id: i }),
    );
    const ack = await clients[0].request('broadcast', 'to the crowd', 'crowd');
    expect(ack.data).toEqual({ recipients: 99, instances: 1 });
    const pushes = await Promise.all(clients.slice(1).map((c) => c.nextJson()));
    expect(pushes.every((p) => p.event === 'broadcast')).toBe(true);
    await Promise.all(clients.map((c) => c.close()));
    const registry = gateway.app.get(ConnectionRegistry);
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});
