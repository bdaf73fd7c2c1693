import { ProbeGateway } from './support/probe.gateway.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect, type TestClient } from './support/ws-client.js';

describe('error frames: every bad request is answered and the connection stays usable (e2e)', () => {
  let gateway: RunningApp;
  let client: TestClient;

  beforeAll(async () => {
    gateway = await startApp({ providers: [ProbeGateway] });
  });
  afterAll(async () => {
    await gateway.close();
  });
  beforeEach(async () => {
    client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
  });
  afterEach(async () => {
    // Every case must leave the connection usable.
    expect(await client.request('echo', 'still here', 'after')).toEqual({
      event: 'echo',
      data: 'still here',
      id: 'after',
    });
    await client.close();
  });

  it('malformed JSON: BAD_REQUEST', async () => {
    client.send('{"event": "echo", "data": ');
    const frame = await client.nextJson();
    expect(frame.event).toBe('error');
    expect(frame.data).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/^malformed JSON/),
    });
    expect(frame.id).toBeUndefined();
  });

  it('an envelope without event: BAD_REQUEST with details and the id', async () => {
    client.sendJson({ data: 1, id: 'no-event' });
    expect(await client.nextJson()).toEqual({
      event: 'error',
      data: {
        code: 'BAD_REQUEST',
        message: 'invalid envelope',
        details: [{ field: 'event', message: 'must be a non-empty string' }],
      },
      id: 'no-event',
    });
  });

  it('an envelope with a bad id and no event: both listed', async () => {
    client.sendJson({ event: 5, id: { nested: true } });
    const frame = await client.nextJson();
    expect(frame.id).toBeUndefined();
    expect(
      (frame.data as { details: Array<{ field: string }> }).details
        .map((d) => d.field)
        .sort(),
    ).toEqual(['event', 'id']);
  });

  it('an unknown event: UNKNOWN_EVENT with the id', async () => {
    expect(await client.request('no.such.event', {}, 9)).toEqual({
      event: 'error',
      data: {
        code: 'UNKNOWN_EVENT',
        message: 'no handler for event "no.such.event"',
      },
      id: 9,
    });
  });

  it('a DTO that fails validation: BAD_REQUEST listing each field', async () => {
    const frame = await client.request(
      'probe.validate',
      { name: '', paging: { size: 500 } },
      'v1',
    );
    expect(frame).toMatchObject({
      event: 'error',
      id: 'v1',
      data: { code: 'BAD_REQUEST', message: 'validation failed' },
    });
    const fields = (
      frame.data as { details: Array<{ field: string }> }
    ).details.map((d) => d.field);
    expect(fields).toContain('name');
    expect(fields).toContain('paging.size');
  });

  it('a DTO with no data at all: BAD_REQUEST', async () => {
    const frame = await client.request('probe.validate', undefined, 'v0');
    expect(frame).toMatchObject({
      event: 'error',
      id: 'v0',
      data: { code: 'BAD_REQUEST' },
    });
  });

  it('a valid DTO reaches the handler as a class instance', async () => {
    expect(
      await client.request(
        'probe.validate',
        { name: 'ok', paging: { size: 5 } },
        'v2',
      ),
    ).toEqual({
      event: 'probe.validate',
      data: { name: 'ok', size: 5, isDto: true },
      id: 'v2',
    });
  });

  it('a handler that throws: INTERNAL, without the error text', async () => {
    expect(await client.request('probe.throw', null, 't1')).toEqual({
      event: 'error',
      data: { code: 'INTERNAL', message: 'internal error' },
      id: 't1',
    });
  });

  it('a handler that rejects: INTERNAL, without the error text', async () => {
    expect(await client.request('probe.reject', null, 't2')).toEqual({
      event: 'error',
      data: { code: 'INTERNAL', message: 'internal error' },
      id: 't2',
    });
  });

  it('a GatewayError keeps its code and message', async () => {
    expect(await client.request('probe.forbidden', null, 'f1')).toEqual({
      event: 'error',
      data: { code: 'FORBIDDEN', message: 'not for you' },
      id: 'f1',
    });
  });

  it("a host guard's refusal: FORBIDDEN", async () => {
    const frame = await client.request('probe.denied', null, 'g1');
    expect(frame).toMatchObject({
      event: 'error',
      id: 'g1',
      data: { code: 'FORBIDDEN' },
    });
  });

  it('a result JSON cannot carry: INTERNAL, once', async () => {
    expect(await client.request('probe.bigint', null, 'b1')).toEqual({
      event: 'error',
      data: { code: 'INTERNAL', message: 'internal error' },
      id: 'b1',
    });
  });

  it('a handler returning nothing still acknowledges a request with an id', async () => {
    expect(await client.request('probe.void', null, 'n1')).toEqual({
      event: 'probe.void',
      data: null,
      id: 'n1',
    });
  });

  it('a handler returning nothing sends nothing for a request without id', async () => {
    client.sendJson({ event: 'probe.void' });
    await client.expectSilence();
  });

  it('an observable result: one reply, its first value', async () => {
    expect(await client.request('probe.observable', null, 'o1')).toEqual({
      event: 'probe.observable',
      data: 'first',
      id: 'o1',
    });
    await client.expectSilence(200);
  });

  it("the principal reaches a host handler's parameter", async () => {
    expect(await client.request('probe.whoami', null, 'w')).toEqual({
      event: 'probe.whoami',
      data: 'token-1',
      id: 'w',
    });
  });
});

describe('frames the gateway refuses by closing (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({ gateway: { maxPayloadBytes: 1024 } });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('a binary frame closes with 1003', async () => {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    client.send(Buffer.from([1, 2, 3]));
    expect(await client.closed).toEqual({
      code: 1003,
      reason: 'binary frames are not accepted',
    });
  });

  it('a frame over the limit closes with 1009; one at the limit is served', async () => {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    const fits = JSON.stringify({ event: 'echo', data: '' });
    const atLimit = JSON.stringify({
      event: 'echo',
      data: 'x'.repeat(1024 - fits.length),
    });
    expect(atLimit.length).toBe(1024);
    client.send(atLimit);
    expect((await client.nextJson()).event).toBe('echo');
    client.send(`${atLimit} `);
    expect((await client.closed).code).toBe(1009);
  });

  it('a text frame that is not UTF-8 closes with 1007', async () => {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {
      binary: false,
    });
    expect((await client.closed).code).toBe(1007);
  });

  it('one connection closing on an error leaves the others untouched', async () => {
    const bystanders = await Promise.all(
      Array.from({ length: 5 }, () =>
        connect(gateway.wsUrl, { token: TEST_TOKEN }),
      ),
    );
    const offender = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    offender.send('x'.repeat(5000));
    expect((await offender.closed).code).toBe(1009);
    const abrupt = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    abrupt.sendJson({ event: 'echo', data: 'gone', id: 1 });
    abrupt.socket.terminate();
    for (const [i, b] of bystanders.entries()) {
      expect(await b.request('echo', i, i)).toEqual({
        event: 'echo',
        data: i,
        id: i,
      });
    }
    await Promise.all(bystanders.map((b) => b.close()));
  });
});
