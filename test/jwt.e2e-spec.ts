import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { GatewayConfig } from '../src/config/gateway.config.js';
import type { GatewayJwtOptions } from '../src/gateway/gateway.options.js';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { TokenExpiryWatch } from '../src/gateway/auth/token-expiry.watch.js';
import { eventually } from './support/eventually.js';
import { ProbeGateway } from './support/probe.gateway.js';
import { freePort } from './support/redis-server.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import {
  connect,
  handshakeStatus,
  HandshakeRefused,
  TestClient,
  type ConnectOptions,
} from './support/ws-client.js';

const SECRET = randomBytes(32).toString('base64url');
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'gateway';
const nowSec = () => Math.floor(Date.now() / 1000);

/** A token: alice, from ISSUER for AUDIENCE, valid for a minute, unless the claims say otherwise. */
function sign(
  key: CryptoKey | Uint8Array,
  header: JWTHeaderParameters,
  claims: JWTPayload = {},
): Promise<string> {
  return new SignJWT({
    sub: 'alice',
    iss: ISSUER,
    aud: AUDIENCE,
    exp: nowSec() + 60,
    ...claims,
  })
    .setProtectedHeader(header)
    .sign(key);
}

const hs256 = (claims: JWTPayload = {}, secret = SECRET) =>
  sign(new TextEncoder().encode(secret), { alg: 'HS256' }, claims);

/** JWT options as the app's config carries them (the config type has no clockToleranceSec). */
const jwtConfig = (jwt: GatewayJwtOptions) =>
  jwt as NonNullable<GatewayConfig['auth']['jwt']>;

/** The status and headers of a refused handshake; fails if it was accepted. */
async function refusal(
  url: string,
  options: ConnectOptions,
): Promise<HandshakeRefused> {
  const outcome = await handshakeStatus(url, options);
  if (!(outcome instanceof HandshakeRefused)) {
    throw new Error('expected the handshake to be refused');
  }
  return outcome;
}

const INVALID = 'Bearer realm="gateway", error="invalid_token"';

describe('JWT (HS256) at the handshake, next to static tokens (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({
      providers: [ProbeGateway],
      gateway: {
        auth: {
          tokens: [TEST_TOKEN],
          jwt: jwtConfig({
            secret: SECRET,
            issuer: ISSUER,
            audience: ['other', AUDIENCE],
            clockToleranceSec: 0,
          }),
        },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it.each(['bearer', 'bare', 'query'] as const)(
    'accepts a token given as %s; the principal is its sub',
    async (via) => {
      const client = await connect(gateway.wsUrl, {
        token: await hs256(),
        via,
      });
      expect(await client.request('probe.whoami', null, 1)).toEqual({
        event: 'probe.whoami',
        data: 'alice',
        id: 1,
      });
      await client.close();
    },
  );

  it('still accepts the static tokens', async () => {
    const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect((await client.request('probe.whoami', null, 1)).data).toBe(
      'token-1',
    );
    await client.close();
  });

  it.each([
    ['an expired token', { exp: nowSec() - 5 }],
    ['a token of another issuer', { iss: 'https://evil.test' }],
    ['a token for another audience', { aud: 'billing' }],
    ['a token not valid yet', { nbf: nowSec() + 60 }],
    ['a token without exp', { exp: undefined }],
  ])('refuses %s with 401 invalid_token', async (_, claims) => {
    const refused = await refusal(gateway.wsUrl, {
      token: await hs256(claims),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(INVALID);
  });

  it('refuses a token signed with another secret, in the header or the query', async () => {
    const token = await hs256({}, randomBytes(32).toString('base64url'));
    for (const via of ['bearer', 'query'] as const) {
      expect((await refusal(gateway.wsUrl, { token, via })).status).toBe(401);
    }
  });

  it('refuses an unsigned token (alg none)', async () => {
    const b64 = (v: object) =>
      Buffer.from(JSON.stringify(v)).toString('base64url');
    const token = `${b64({ alg: 'none' })}.${b64({ sub: 'root', iss: ISSUER, aud: AUDIENCE, exp: nowSec() + 60 })}.`;
    expect((await refusal(gateway.wsUrl, { token })).status).toBe(401);
  });

  describe('a handler with @RequireScopes("admin")', () => {
    it('answers FORBIDDEN to a token without the scope; the connection stays usable', async () => {
      const client = await connect(gateway.wsUrl, {
        token: await hs256({ scope: 'chat:read chat:write' }),
      });
      expect(await client.request('probe.admin', null, 'a1')).toEqual({
        event: 'error',
        data: { code: 'FORBIDDEN', message: 'missing scope: admin' },
        id: 'a1',
      });
      expect(await client.request('echo', 'still here', 'e1')).toEqual({
        event: 'echo',
        data: 'still here',
        id: 'e1',
      });
      await client.close();
    });

    it.each([
      ['scope', { scope: 'chat:read admin' }],
      ['scp', { scp: ['admin'] }],
      ['roles', { roles: ['admin'] }],
    ])('runs for a token holding it in %s', async (_, claims) => {
      const client = await connect(gateway.wsUrl, {
        token: await hs256(claims),
      });
      const reply = await client.request('probe.admin', null, 'a2');
      expect(reply.event).toBe('probe.admin');
      expect(reply.data).toMatchObject({ subject: 'alice' });
      expect((reply.data as { scopes: string[] }).scopes).toContain('admin');
      await client.close();
    });

    it('answers FORBIDDEN to a static token: static tokens have no scopes', async () => {
      const client = await connect(gateway.wsUrl, { token: TEST_TOKEN });
      expect((await client.request('probe.admin', null, 'a3')).data).toEqual({
        code: 'FORBIDDEN',
        message: 'missing scope: admin',
      });
      await client.close();
    });
  });

  it('closes the connection with 4401 when the token expires; a static-token one stays', async () => {
    // A whole second that ends at least 1.5 s from now (exp counts in seconds).
    const exp = Math.ceil((Date.now() + 1_500) / 1000);
    const client = await connect(gateway.wsUrl, {
      token: await hs256({ exp }),
    });
    const staticClient = await connect(gateway.wsUrl, { token: TEST_TOKEN });
    expect((await client.request('echo', 'before', 1)).data).toBe('before');
    const closed = await client.closed;
    const closedAt = Date.now();
    expect(closed).toEqual({ code: 4401, reason: 'token expired' });
    expect(closedAt).toBeGreaterThanOrEqual(exp * 1000);
    expect(closedAt).toBeLessThan(exp * 1000 + 1_000);
    expect((await staticClient.request('echo', 'alive', 2)).data).toBe('alive');
    await staticClient.close();
    // The server forgets both: no registry entry, no expiry timer left behind.
    const registry = gateway.app.get(ConnectionRegistry);
    const watch = gateway.app.get(TokenExpiryWatch);
    await eventually(
      () => registry.size === 0 && watch.size === 0,
      'the connections to be forgotten',
    );
  });
});

describe('JWT (RS256) with a PEM public key, no static tokens (e2e)', () => {
  let gateway: RunningApp;
  let rsa: { privateKey: CryptoKey; pem: string };
  let warnings: string[];

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    rsa = {
      privateKey: pair.privateKey,
      pem: await exportSPKI(pair.publicKey),
    };
    warnings = [];
    const spy = vi
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => {
        warnings.push(String(message));
      });
    try {
      gateway = await startApp({
        gateway: {
          auth: { tokens: [], jwt: jwtConfig({ publicKey: rsa.pem }) },
        },
      });
    } finally {
      spy.mockRestore();
    }
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('accepts an RS256 token signed by the matching private key', async () => {
    const client = await connect(gateway.wsUrl, {
      token: await sign(rsa.privateKey, { alg: 'RS256' }),
    });
    const registry = gateway.app.get(ConnectionRegistry);
    expect(registry.all().map((c) => c.principal.subject)).toEqual(['alice']);
    await client.close();
  });

  it('refuses HS256 signed with the public key as the secret (algorithm confusion)', async () => {
    const token = await sign(new TextEncoder().encode(rsa.pem), {
      alg: 'HS256',
    });
    expect((await refusal(gateway.wsUrl, { token })).status).toBe(401);
  });

  it('refuses a token of another RSA key, and any static token', async () => {
    const other = await generateKeyPair('RS256');
    const token = await sign(other.privateKey, { alg: 'RS256' });
    expect((await refusal(gateway.wsUrl, { token })).status).toBe(401);
    expect((await refusal(gateway.wsUrl, { token: TEST_TOKEN })).status).toBe(
      401,
    );
  });

  it('does not warn "no tokens configured" at boot: JWTs are', () => {
    expect(warnings.filter((w) => w.includes('no tokens configured'))).toEqual(
      [],
    );
  });
});

/** A JWKS endpoint on 127.0.0.1: the key set on /jwks, garbage on /garbage. */
class JwksServer {
  keys: JWK[] = [];
  /** How long each answer waits, so that handshakes can pile up behind one fetch. */
  delayMs = 0;
  private readonly server: Server = createServer((req, res) => {
    setTimeout(() => this.answer(req.url ?? '', res), this.delayMs);
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server.listen(0, '127.0.0.1', resolve),
    );
  }

  url(path: string): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  private answer(path: string, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      path === '/jwks' ? JSON.stringify({ keys: this.keys }) : 'not a key set',
    );
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('JWT (ES256) from a JWKS endpoint (e2e)', () => {
  const jwks = new JwksServer();
  let gateway: RunningApp;
  let garbage: RunningApp;
  let unreachable: RunningApp;
  let es: CryptoKey;

  const startWith = (jwksUrl: string) =>
    startApp({
      gateway: { auth: { tokens: [], jwt: jwtConfig({ jwksUrl }) } },
    });

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    es = pair.privateKey;
    jwks.keys = [
      { ...(await exportJWK(pair.publicKey)), kid: 'es-1', alg: 'ES256' },
    ];
    await jwks.start();
    [gateway, garbage, unreachable] = await Promise.all([
      startWith(jwks.url('/jwks')),
      startWith(jwks.url('/garbage')),
      freePort().then((port) => startWith(`http://127.0.0.1:${port}/jwks`)),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gateway, garbage, unreachable].map((g) => g?.close()));
    await jwks.stop();
  });

  it('accepts an ES256 token whose kid is in the key set', async () => {
    const client = await connect(gateway.wsUrl, {
      token: await sign(es, { alg: 'ES256', kid: 'es-1' }),
    });
    expect((await client.request('echo', 'jwks', 1)).data).toBe('jwks');
    await client.close();
  });

  it('refuses a token under an unknown kid with 401, not 503', async () => {
    const stranger = await generateKeyPair('ES256');
    const refused = await refusal(gateway.wsUrl, {
      token: await sign(stranger.privateKey, { alg: 'ES256', kid: 'es-9' }),
    });
    expect(refused.status).toBe(401);
  });

  it.each([
    ['answers garbage', () => garbage],
    ['cannot be reached', () => unreachable],
  ])(
    'answers 503 with Retry-After when the JWKS endpoint %s',
    async (_, app) => {
      const refused = await refusal(app().wsUrl, {
        token: await sign(es, { alg: 'ES256', kid: 'es-1' }),
      });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(app().app.get(ConnectionRegistry).size).toBe(0);
    },
  );
});

describe('maxConnectionsPerPrincipal with JWTs verified together (e2e)', () => {
  const jwks = new JwksServer();
  let gateway: RunningApp;
  let es: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    es = pair.privateKey;
    jwks.keys = [
      { ...(await exportJWK(pair.publicKey)), kid: 'es-1', alg: 'ES256' },
    ];
    jwks.delayMs = 200;
    await jwks.start();
    gateway = await startApp({
      gateway: {
        maxConnectionsPerPrincipal: 2,
        auth: { tokens: [], jwt: jwtConfig({ jwksUrl: jwks.url('/jwks') }) },
      },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await jwks.stop();
  });

  it('six handshakes of one subject waiting on one key fetch: two get in, four get 429', async () => {
    const token = await sign(es, { alg: 'ES256', kid: 'es-1' });
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () =>
        connect(gateway.wsUrl, { token }).catch((err: unknown) => err),
      ),
    );
    const accepted = outcomes.filter(
      (o): o is TestClient => o instanceof TestClient,
    );
    const refused = outcomes.filter(
      (o): o is HandshakeRefused => o instanceof HandshakeRefused,
    );
    expect(accepted).toHaveLength(2);
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429]);
    const registry = gateway.app.get(ConnectionRegistry);
    expect(registry.size).toBe(2);

    // Another subject is not held back by alice's connections.
    const bob = await connect(gateway.wsUrl, {
      token: await sign(es, { alg: 'ES256', kid: 'es-1' }, { sub: 'bob' }),
    });
    expect(registry.size).toBe(3);
    await Promise.all([...accepted, bob].map((c) => c.close()));
    await eventually(() => registry.size === 0, 'the registry to empty');
  });
});
