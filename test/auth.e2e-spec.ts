import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import {
  connect,
  handshakeStatus,
  HandshakeRefused,
} from './support/ws-client.js';

describe('handshake authentication (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it.each(['bearer', 'bare', 'query'] as const)(
    'accepts the token given as %s',
    async (via) => {
      const client = await connect(gateway.wsUrl, { token: TEST_TOKEN, via });
      expect(await client.request('echo', via, 1)).toEqual({
        event: 'echo',
        data: via,
        id: 1,
      });
      await client.close();
    },
  );

  it('accepts the scheme in any case', async () => {
    const client = await connect(gateway.wsUrl, {
      headers: { Authorization: `bEaReR ${TEST_TOKEN}` },
    });
    await client.close();
  });

  it('refuses a handshake without a token with 401 and a Bearer challenge', async () => {
    const refused = await handshakeStatus(gateway.wsUrl);
    expect(refused).toBeInstanceOf(HandshakeRefused);
    const { status, headers } = refused as HandshakeRefused;
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toBe('Bearer realm="gateway"');
  });

  it.each(['bearer', 'bare', 'query'] as const)(
    'refuses a wrong token given as %s with 401 invalid_token',
    async (via) => {
      const refused = (await handshakeStatus(gateway.wsUrl, {
        token: 'wrong-token',
        via,
      })) as HandshakeRefused;
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe(
        'Bearer realm="gateway", error="invalid_token"',
      );
    },
  );

  it('refuses an Authorization header of another scheme instead of trying the query', async () => {
    const refused = (await handshakeStatus(
      `${gateway.wsUrl}?token=${TEST_TOKEN}`,
      {
        headers: { Authorization: 'Basic dXNlcjpwYXNz' },
      },
    )) as HandshakeRefused;
    expect(refused.status).toBe(401);
  });

  it('opens no socket for a refused handshake', async () => {
    const registry = gateway.app.get(ConnectionRegistry);
    const before = registry.size;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        handshakeStatus(gateway.wsUrl, { token: 'nope' }),
      ),
    );
    expect(registry.size).toBe(before);
  });

  it('answers 404 on another path', async () => {
    const refused = (await handshakeStatus(
      `ws://127.0.0.1:${gateway.port}/elsewhere`,
      {
        token: TEST_TOKEN,
      },
    )) as HandshakeRefused;
    expect(refused.status).toBe(404);
  });

  it('answers a plain HTTP request on the WebSocket path without upgrading', async () => {
    const res = await fetch(`${gateway.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });
});

describe('handshake with a custom path and several tokens (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        path: '/ws',
        auth: {
          tokens: ['alpha-token', 'beta-token'],
          disabled: false,
          generatedToken: undefined,
        },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('serves the configured path and tells the tokens apart by subject', async () => {
    expect(gateway.wsUrl.endsWith('/ws')).toBe(true);
    const registry = gateway.app.get(ConnectionRegistry);
    const a = await connect(gateway.wsUrl, { token: 'alpha-token' });
    const b = await connect(gateway.wsUrl, { token: 'beta-token' });
    const subjects = registry
      .all()
      .map((c) => c.principal.subject)
      .sort();
    expect(subjects).toEqual(['token-1', 'token-2']);
    await Promise.all([a.close(), b.close()]);
  });

  it('answers 404 on the default path', async () => {
    const refused = (await handshakeStatus(`ws://127.0.0.1:${gateway.port}/`, {
      token: 'alpha-token',
    })) as HandshakeRefused;
    expect(refused.status).toBe(404);
  });
});

describe('authentication explicitly disabled (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        auth: { tokens: [], disabled: true, generatedToken: undefined },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('accepts a handshake without a token, as anonymous', async () => {
    const client = await connect(gateway.wsUrl);
    expect(await client.request('echo', 'hi', 'a')).toEqual({
      event: 'echo',
      data: 'hi',
      id: 'a',
    });
    expect(gateway.app.get(ConnectionRegistry).all()[0].principal.subject).toBe(
      'anonymous',
    );
    await client.close();
  });
});

describe('no token configured and auth not disabled (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      gateway: {
        auth: { tokens: [], disabled: false, generatedToken: undefined },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('refuses every handshake: auth is never silently off', async () => {
    expect(
      ((await handshakeStatus(gateway.wsUrl)) as HandshakeRefused).status,
    ).toBe(401);
    expect(
      (
        (await handshakeStatus(gateway.wsUrl, {
          token: 'anything',
        })) as HandshakeRefused
      ).status,
    ).toBe(401);
  });
});
