import { connect, type TestClient } from './support/ws-client.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';

describe('echo and plain text (e2e)', () => {
  let gateway: RunningApp;
  let client: TestClient;

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });
  beforeEach(async () => {
    client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
  });
  afterEach(async () => {
    await client.close();
  });

  it('echoes the data back with the request id', async () => {
    const data = { text: 'hello', n: 42, list: [1, null, { deep: true }] };
    expect(await client.request('echo', data, 'req-1')).toEqual({
      event: 'echo',
      data,
      id: 'req-1',
    });
  });

  it('keeps numeric ids as numbers', async () => {
    expect(await client.request('echo', 'x', 7)).toEqual({
      event: 'echo',
      data: 'x',
      id: 7,
    });
  });

  it('answers a request without id, and without data, with null data', async () => {
    client.send('{"event":"echo"}');
    expect(await client.nextJson()).toEqual({ event: 'echo', data: null });
  });

  it('answers plain text as the tutorial server does', async () => {
    client.send('Hello world');
    expect(await client.next()).toBe('server received: Hello world');
  });

  it('treats text that does not open with { as plain text, even if it is JSON', async () => {
    client.send('[1,2,3]');
    expect(await client.next()).toBe('server received: [1,2,3]');
  });

  it('answers concurrent requests each with its own id', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    for (const id of ids) client.sendJson({ event: 'echo', data: id, id });
    const replies = await Promise.all(ids.map(() => client.nextJson()));
    for (const reply of replies) expect(reply.data).toBe(reply.id);
    expect(new Set(replies.map((r) => r.id))).toEqual(new Set(ids));
  });
});
