import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { JwksUnavailableError } from './jwks-key-source.js';
import { JWT_FALLBACK_SUBJECT, JwtVerifier, scopesOf } from './jwt.verifier.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const bytes = (s: string) => new TextEncoder().encode(s);

/** A signed token: an `exp` a minute away unless the claims say otherwise. */
function sign(
  key: CryptoKey | Uint8Array,
  header: JWTHeaderParameters,
  claims: JWTPayload = {},
): Promise<string> {
  return new SignJWT({ sub: 'alice', exp: nowSec() + 60, ...claims })
    .setProtectedHeader(header)
    .sign(key);
}

/** A token as an attacker writes it: any header, any payload, any signature. */
function forge(header: object, payload: object, signature = ''): string {
  const b64 = (v: object) =>
    Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

describe('JwtVerifier', () => {
  const secret = randomBytes(32).toString('base64url');
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey; pem: string };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey; pem: string };

  beforeAll(async () => {
    const r = await generateKeyPair('RS256');
    rsa = { ...r, pem: await exportSPKI(r.publicKey) };
    const e = await generateKeyPair('ES256');
    ec = { ...e, pem: await exportSPKI(e.publicKey) };
  });

  describe('with an HS256 secret', () => {
    const verifier = new JwtVerifier({ secret, clockToleranceSec: 5 });

    it('accepts a token signed with the secret', async () => {
      const exp = nowSec() + 60;
      const token = await sign(bytes(secret), { alg: 'HS256' }, { exp });
      const principal = await verifier.verify(token);
      expect(principal).toEqual({
        subject: 'alice',
        scopes: [],
        expiresAt: (exp + 5) * 1000,
        claims: { sub: 'alice', exp },
      });
      expect(verifier.algorithms).toEqual(['HS256']);
    });

    it('refuses a token signed with another secret', async () => {
      const token = await sign(bytes(`${secret}x`), { alg: 'HS256' });
      await expect(verifier.verify(token)).resolves.toBeNull();
    });

    it('refuses a token whose payload was changed after signing', async () => {
      const token = await sign(bytes(secret), { alg: 'HS256' });
      const [h, , s] = token.split('.');
      const payload = Buffer.from(
        JSON.stringify({ sub: 'mallory', exp: nowSec() + 60 }),
      ).toString('base64url');
      await expect(verifier.verify(`${h}.${payload}.${s}`)).resolves.toBeNull();
    });

    it.each(['HS384', 'HS512'])(
      'refuses %s even with the right secret: the algorithm is pinned',
      async (alg) => {
        const token = await sign(bytes(secret), { alg });
        await expect(verifier.verify(token)).resolves.toBeNull();
      },
    );

    it('refuses an RS256 token', async () => {
      const token = await sign(rsa.privateKey, { alg: 'RS256' });
      await expect(verifier.verify(token)).resolves.toBeNull();
    });
  });

  describe('with a PEM public key', () => {
    it('accepts RS256 with an RSA key, and only RS256', async () => {
      const verifier = new JwtVerifier({ publicKey: rsa.pem });
      expect(verifier.algorithms).toEqual(['RS256']);
      const token = await sign(rsa.privateKey, { alg: 'RS256' });
      expect((await verifier.verify(token))?.subject).toBe('alice');
    });

    it('accepts ES256 with a P-256 key, and only ES256', async () => {
      const verifier = new JwtVerifier({ publicKey: ec.pem });
      expect(verifier.algorithms).toEqual(['ES256']);
      const token = await sign(ec.privateKey, { alg: 'ES256' });
      expect((await verifier.verify(token))?.subject).toBe('alice');
    });

    it('accepts an RSA key in PKCS#1 form (BEGIN RSA PUBLIC KEY)', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
      });
      const pem = publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
      expect(pem).toContain('BEGIN RSA PUBLIC KEY');
      const token = await new SignJWT({ sub: 'bob', exp: nowSec() + 60 })
        .setProtectedHeader({ alg: 'RS256' })
        .sign(privateKey);
      const verifier = new JwtVerifier({ publicKey: pem });
      expect((await verifier.verify(token))?.subject).toBe('bob');
    });

    it('refuses a token signed by another key of the same kind', async () => {
      const other = await generateKeyPair('RS256');
      const verifier = new JwtVerifier({ publicKey: rsa.pem });
      const token = await sign(other.privateKey, { alg: 'RS256' });
      await expect(verifier.verify(token)).resolves.toBeNull();
    });

    it('refuses HS256 signed with the public key PEM as the secret (algorithm confusion)', async () => {
      const verifier = new JwtVerifier({ publicKey: rsa.pem });
      for (const key of [rsa.pem, rsa.pem.trim()]) {
        const token = await sign(bytes(key), { alg: 'HS256' });
        await expect(verifier.verify(token)).resolves.toBeNull();
      }
    });

    it('refuses an ES256 token when the key is RSA, and RS256 when it is EC', async () => {
      await expect(
        new JwtVerifier({ publicKey: rsa.pem }).verify(
          await sign(ec.privateKey, { alg: 'ES256' }),
        ),
      ).resolves.toBeNull();
      await expect(
        new JwtVerifier({ publicKey: ec.pem }).verify(
          await sign(rsa.privateKey, { alg: 'RS256' }),
        ),
      ).resolves.toBeNull();
    });

    it('refuses PS256 with the RSA key', async () => {
      const ps = await generateKeyPair('PS256');
      const verifier = new JwtVerifier({
        publicKey: await exportSPKI(ps.publicKey),
      });
      expect(verifier.algorithms).toEqual(['RS256']);
      await expect(
        verifier.verify(await sign(ps.privateKey, { alg: 'PS256' })),
      ).resolves.toBeNull();
    });
  });

  describe('refuses unsigned tokens', () => {
    const verifiers = () => [
      new JwtVerifier({ secret }),
      new JwtVerifier({ publicKey: rsa.pem }),
      new JwtVerifier({ publicKey: ec.pem }),
    ];

    it.each([
      [
        'jose unsecured JWT',
        () => new UnsecuredJWT({ sub: 'root', exp: nowSec() + 60 }).encode(),
      ],
      [
        'alg none',
        () => forge({ alg: 'none' }, { sub: 'root', exp: nowSec() + 60 }),
      ],
      [
        'alg None',
        () => forge({ alg: 'None' }, { sub: 'root', exp: nowSec() + 60 }),
      ],
      [
        'alg NONE with a signature',
        () =>
          forge({ alg: 'NONE' }, { sub: 'root', exp: nowSec() + 60 }, 'c2ln'),
      ],
      [
        'no alg',
        () => forge({ typ: 'JWT' }, { sub: 'root', exp: nowSec() + 60 }),
      ],
    ])('%s', async (_, token) => {
      for (const verifier of verifiers()) {
        await expect(verifier.verify(token())).resolves.toBeNull();
      }
    });
  });

  describe('claims', () => {
    const verifier = new JwtVerifier({
      secret,
      issuer: 'https://issuer.example',
      audience: ['gateway', 'chat'],
      clockToleranceSec: 5,
    });
    const good = { iss: 'https://issuer.example', aud: 'gateway' };
    const check = async (claims: JWTPayload) =>
      verifier.verify(await sign(bytes(secret), { alg: 'HS256' }, claims));

    it('accepts the right issuer and any configured audience', async () => {
      expect(await check(good)).not.toBeNull();
      expect(await check({ ...good, aud: 'chat' })).not.toBeNull();
      expect(await check({ ...good, aud: ['other', 'chat'] })).not.toBeNull();
    });

    // Claims are made when each case runs: times taken when the table is built go stale on a
    // loaded machine, where collection and the run can be seconds apart.
    it.each([
      ['a wrong issuer', () => ({ ...good, iss: 'https://evil.example' })],
      ['no issuer', () => ({ aud: 'gateway' })],
      [
        'an issuer differing in case',
        () => ({ ...good, iss: 'https://ISSUER.example' }),
      ],
      ['a wrong audience', () => ({ ...good, aud: 'billing' })],
      ['no audience', () => ({ iss: good.iss })],
      [
        'an audience list without ours',
        () => ({ ...good, aud: ['billing', 'mail'] }),
      ],
      ['an expired token', () => ({ ...good, exp: nowSec() - 60 })],
      [
        'a token expired just past the tolerance',
        () => ({ ...good, exp: nowSec() - 7 }),
      ],
      [
        'a token not valid before a minute from now',
        () => ({ ...good, nbf: nowSec() + 60 }),
      ],
      [
        'a token not valid before just past the tolerance',
        () => ({ ...good, nbf: nowSec() + 7 }),
      ],
      ['a token without exp', () => ({ ...good, exp: undefined })],
      ['an exp that is not a number', () => ({ ...good, exp: 'tomorrow' })],
      ['an nbf that is not a number', () => ({ ...good, nbf: 'now' })],
    ])('refuses %s', async (_, claims) => {
      await expect(check(claims() as JWTPayload)).resolves.toBeNull();
    });

    it('tolerates clock skew up to clockToleranceSec, and keeps the token that long', async () => {
      const exp = nowSec() - 2;
      const principal = await check({ ...good, exp, nbf: nowSec() + 3 });
      expect(principal).not.toBeNull();
      expect(principal!.expiresAt).toBe((exp + 5) * 1000);
      expect(principal!.expiresAt).toBeGreaterThan(Date.now());
    });

    it('checks neither issuer nor audience when none is configured', async () => {
      const plain = new JwtVerifier({ secret, audience: [] });
      const token = await sign(
        bytes(secret),
        { alg: 'HS256' },
        {
          iss: 'anyone',
          aud: 'anything',
        },
      );
      expect(await plain.verify(token)).not.toBeNull();
    });

    it('defaults the clock tolerance to 5 s', async () => {
      const plain = new JwtVerifier({ secret });
      const exp = nowSec() - 3;
      const token = await sign(bytes(secret), { alg: 'HS256' }, { exp });
      expect((await plain.verify(token))?.expiresAt).toBe((exp + 5) * 1000);
      const strict = new JwtVerifier({ secret, clockToleranceSec: 0 });
      await expect(strict.verify(token)).resolves.toBeNull();
    });
  });

  describe('the principal', () => {
    const verifier = new JwtVerifier({ secret });
    const principalOf = async (claims: JWTPayload) =>
      verifier.verify(await sign(bytes(secret), { alg: 'HS256' }, claims));

    it('is named by sub, else client_id, else "jwt"', async () => {
      expect((await principalOf({ sub: 'u-1' }))?.subject).toBe('u-1');
      expect(
        (await principalOf({ sub: undefined, client_id: 'svc' }))?.subject,
      ).toBe('svc');
      expect((await principalOf({ sub: '', client_id: 'svc' }))?.subject).toBe(
        'svc',
      );
      expect((await principalOf({ sub: undefined }))?.subject).toBe(
        JWT_FALLBACK_SUBJECT,
      );
      expect(
        (await principalOf({ sub: undefined, client_id: 42 }))?.subject,
      ).toBe('jwt');
    });

    it('never carries the token', async () => {
      const token = await sign(bytes(secret), { alg: 'HS256' });
      const principal = await verifier.verify(token);
      expect(JSON.stringify(principal)).not.toContain(token.split('.')[2]);
    });

    it('keeps the payload as claims', async () => {
      const principal = await principalOf({ tenant: 't-9', scope: 'a' });
      expect(principal?.claims).toMatchObject({ tenant: 't-9', scope: 'a' });
    });

    it('gets its scopes from the token', async () => {
      expect(
        (await principalOf({ scope: 'chat:read admin', roles: ['ops'] }))
          ?.scopes,
      ).toEqual(['chat:read', 'admin', 'ops']);
    });
  });

  describe('scopesOf', () => {
    it.each([
      ['nothing', {}, []],
      ['a space-separated scope', { scope: 'a b  c' }, ['a', 'b', 'c']],
      ['scope with tabs and ends', { scope: ' a\tb ' }, ['a', 'b']],
      ['scp as a string', { scp: 'a b' }, ['a', 'b']],
      ['scp as a list', { scp: ['a', 'b'] }, ['a', 'b']],
      ['roles', { roles: ['admin', 'ops'] }, ['admin', 'ops']],
      [
        'all three merged without repeats',
        { scope: 'a b', scp: ['b', 'c'], roles: ['c', 'd'] },
        ['a', 'b', 'c', 'd'],
      ],
      ['an empty scope', { scope: '' }, []],
      [
        'values of the wrong type, ignored',
        { scope: ['x'], scp: 7, roles: 'admin' },
        [],
      ],
      [
        'non-strings inside the lists, ignored',
        { scp: ['a', 1, null, ''], roles: [{ r: 1 }, 'b'] },
        ['a', 'b'],
      ],
    ])('reads %s', (_, payload, scopes) => {
      expect(scopesOf(payload as JWTPayload)).toEqual(scopes);
    });
  });

  describe('malformed tokens', () => {
    const verifier = new JwtVerifier({ secret });

    it.each([
      '',
      'abc',
      'a.b',
      'a.b.c',
      '...',
      'a.b.c.d',
      `${Buffer.from('not json').toString('base64url')}.e30.`,
      forge({ alg: 'HS256' }, []),
      forge({ alg: 'HS256', crit: ['exp'] }, { exp: nowSec() + 60 }),
      forge({ alg: 'HS256', b64: false, crit: ['b64'] }, { exp: 1 }),
      `${'a'.repeat(5000)}.${'b'.repeat(5000)}.${'c'.repeat(5000)}`,
    ])('refuses %j with null, never an exception', async (token) => {
      await expect(verifier.verify(token)).resolves.toBeNull();
    });
  });

  describe('configuration', () => {
    it.each([
      ['no key source', {}],
      ['two key sources', { secret: 'x'.repeat(32), publicKey: 'pem' }],
      ['an empty secret', { secret: '' }],
    ])('refuses %s', (_, options) => {
      expect(() => new JwtVerifier(options)).toThrow(
        'give exactly one of secret, publicKey, jwksUrl',
      );
    });

    it('refuses a private key', () => {
      const { privateKey } = generateKeyPairSync('ec', {
        namedCurve: 'prime256v1',
      });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      expect(() => new JwtVerifier({ publicKey: pem })).toThrow(
        'this is a private key',
      );
    });

    it('refuses something that is not a PEM key', () => {
      expect(
        () =>
          new JwtVerifier({
            publicKey:
              '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----',
          }),
      ).toThrow('not a PEM public key');
    });

    it.each([
      [
        'an EC P-384 key',
        () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
      ],
      ['an Ed25519 key', () => generateKeyPairSync('ed25519')],
    ])('refuses %s: only RS256 and ES256', (_, generate) => {
      const pem = generate().publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string;
      expect(() => new JwtVerifier({ publicKey: pem })).toThrow(
        'only RSA (RS256) and EC P-256 (ES256) keys are supported',
      );
    });

    it('refuses a JWKS URL with credentials in it (fetch would refuse it at every handshake)', () => {
      expect(
        () => new JwtVerifier({ jwksUrl: 'https://user:pw@idp.example/jwks' }),
      ).toThrow('must not carry credentials');
    });

    it('refuses an RSA key under 2048 bits', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
      expect(() => new JwtVerifier({ publicKey: pem })).toThrow(
        'RS256 needs 2048 or more',
      );
    });
  });
});

/** A JWKS endpoint on 127.0.0.1 whose answer each test decides. */
class JwksServer {
  /** Requests received so far. */
  requests = 0;
  /** How the next requests are answered; by default the key set. */
  answer: (res: ServerResponse) => void = (res) => this.sendKeys(res);
  keys: JWK[] = [];
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((_req: IncomingMessage, res) => {
      this.requests++;
      this.answer(res);
    });
    await new Promise<void>((resolve) =>
      this.server.listen(0, '127.0.0.1', resolve),
    );
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/.well-known/jwks.json`;
  }

  sendKeys(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: this.keys }));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('JwtVerifier with a JWKS URL', () => {
  let server: JwksServer;
  let es: { privateKey: CryptoKey; jwk: JWK };
  let rs: { privateKey: CryptoKey; jwk: JWK };

  const keyPair = async (alg: 'ES256' | 'RS256', kid: string) => {
    const pair = await generateKeyPair(alg);
    return {
      privateKey: pair.privateKey,
      jwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' },
    };
  };

  beforeAll(async () => {
    es = await keyPair('ES256', 'es-1');
    rs = await keyPair('RS256', 'rs-1');
  });

  beforeEach(async () => {
    server = new JwksServer();
    server.keys = [es.jwk, rs.jwk];
    await server.start();
  });

  afterEach(async () => {
    vi.useRealTimers();
    await server.stop();
  });

  it('accepts ES256 and RS256 tokens whose kid is in the set, fetching it once', async () => {
    const verifier = new JwtVerifier({ jwksUrl: server.url });
    expect(verifier.algorithms).toEqual(['RS256', 'ES256']);
    const a = await sign(es.privateKey, { alg: 'ES256', kid: 'es-1' });
    const b = await sign(rs.privateKey, { alg: 'RS256', kid: 'rs-1' });
    expect((await verifier.verify(a))?.subject).toBe('alice');
    expect((await verifier.verify(b))?.subject).toBe('alice');
    expect((await verifier.verify(a))?.subject).toBe('alice');
    expect(server.requests).toBe(1);
  });

  it('shares one fetch between concurrent handshakes', async () => {
    const verifier = new JwtVerifier({ jwksUrl: server.url });
    const token = await sign(es.privateKey, { alg: 'ES256', kid: 'es-1' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => verifier.verify(token)),
    );
    expect(results.every((p) => p?.subject === 'alice')).toBe(true);
    expect(server.requests).toBe(1);
  });

  it('refuses a token signed by a key not in the set, under a known kid', async () => {
    const verifier = new JwtVerifier({ jwksUrl: server.url });
    const impostor = await keyPair('ES256', 'es-1');
    const token = await sign(impostor.privateKey, {
      alg: 'ES256',
      kid: 'es-1',
    });
    await expect(verifier.verify(token)).resolves.toBeNull();
  });

  it('refuses HS256 without asking the key server (alg pinned before any fetch)', async () => {
    const verifier = new JwtVerifier({ jwksUrl: server.url });
    const token = await sign(bytes('x'.repeat(32)), {
      alg: 'HS256',
      kid: 'es-1',
    });
    await expect(verifier.verify(token)).resolves.toBeNull();
    await expect(
      verifier.verify(
        forge({ alg: 'none', kid: 'es-1' }, { exp: nowSec() + 60 }),
      ),
    ).resolves.toBeNull();
    expect(server.requests).toBe(0);
  });

  it('refetches for an unknown kid, then answers 401 (null) if it is still unknown', async () => {
    const verifier = new JwtVerifier(
      { jwksUrl: server.url },
      { cooldownMs: 0 },
    );
    const known = await sign(es.privateKey, { alg: 'ES256', kid: 'es-1' });
    await verifier.verify(known);
    const stranger = await keyPair('ES256', 'es-9');
    const token = await sign(stranger.privateKey, {
      alg: 'ES256',
      kid: 'es-9',
    });
    await expect(verifier.verify(token)).resolves.toBeNull();
    expect(server.requests).toBe(2);
  });

  it('refetches for unknown kids at most once per cooldown', async () => {
    const verifier = new JwtVerifier(
      { jwksUrl: server.url },
      { cooldownMs: 60_000 },
    );
    const stranger = await keyPair('ES256', 'es-9');
    for (let i = 0; i < 5; i++) {
      const token = await sign(stranger.privateKey, {
        alg: 'ES256',
        kid: `random-${i}`,
      });
      await expect(verifier.verify(token)).resolves.toBeNull();
    }
    expect(server.requests).toBe(1);
  });

  it('picks up a key published after the first fetch (rotation)', async () => {
    const verifier = new JwtVerifier(
      { jwksUrl: server.url },
      { cooldownMs: 0 },
    );
    await verifier.verify(
      await sign(es.privateKey, { alg: 'ES256', kid: 'es-1' }),
    );
    const next = await keyPair('ES256', 'es-2');
    server.keys = [...server.keys, next.jwk];
    const token = await sign(next.privateKey, { alg: 'ES256', kid: 'es-2' });
    expect((await verifier.verify(token))?.subject).toBe('alice');
    expect(server.requests).toBe(2);
  });

  it('tries each fitting key for a token without kid', async () => {
    const second = await keyPair('ES256', 'es-2');
    server.keys = [es.jwk, second.jwk];
    const verifier = new JwtVerifier({ jwksUrl: server.url });
    const token = await sign(second.privateKey, { alg: 'ES256' });
    expect((await verifier.verify(token))?.subject).toBe('alice');
    const stranger = await keyPair('ES256', 'x');
    await expect(
      verifier.verify(await sign(stranger.privateKey, { alg: 'ES256' })),
    ).resolves.toBeNull();
  });

  it('still checks the claims of a token verified with a JWKS key', async () => {
    const verifier = new JwtVerifier({
      jwksUrl: server.url,
      issuer: 'https://issuer.example',
    });
    const token = await sign(
      es.privateKey,
      { alg: 'ES256', kid: 'es-1' },
      {
        iss: 'https://evil.example',
      },
    );
    await expect(verifier.verify(token)).resolves.toBeNull();
    const expired = await sign(
      es.privateKey,
      { alg: 'ES256', kid: 'es-1' },
      {
        iss: 'https://issuer.example',
        exp: nowSec() - 60,
      },
    );
    await expect(verifier.verify(expired)).resolves.toBeNull();
  });

  describe('when the key server fails (the verifier cannot decide: 503)', () => {
    const tokenFor = () => sign(es.privateKey, { alg: 'ES256', kid: 'es-1' });

    it.each([
      [
        'answers garbage',
        (res: ServerResponse) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('<html>oops</html>');
        },
        'Failed to parse',
      ],
      [
        'answers JSON that is not a key set',
        (res: ServerResponse) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"hello":"world"}');
        },
        'malformed',
      ],
      [
        'answers 500',
        (res: ServerResponse) => {
          res.writeHead(500);
          res.end();
        },
        'Expected 200 OK',
      ],
      [
        'redirects',
        (res: ServerResponse) => {
          res.writeHead(302, { location: 'http://127.0.0.1:1/' });
          res.end();
        },
        'Expected 200 OK',
      ],
    ])('throws JwksUnavailableError when it %s', async (_, answer, detail) => {
      server.answer = answer;
      const verifier = new JwtVerifier({ jwksUrl: server.url });
      const error = await verifier
        .verify(await tokenFor())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JwksUnavailableError);
      expect((error as Error).message).toContain(detail);
      expect((error as Error).message).toContain('127.0.0.1');
    });

    it('throws when nothing listens there', async () => {
      const url = server.url;
      await server.stop();
      const verifier = new JwtVerifier({ jwksUrl: url });
      const error = await verifier
        .verify(await tokenFor())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JwksUnavailableError);
      expect((error as Error).message).toContain('ECONNREFUSED');
      server = new JwksServer();
      await server.start();
    });

    it('throws when it does not answer within timeoutMs', async () => {
      server.answer = () => undefined; // never answers
      const verifier = new JwtVerifier(
        { jwksUrl: server.url },
        { timeoutMs: 200 },
      );
      const started = Date.now();
      const error = await verifier
        .verify(await tokenFor())
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JwksUnavailableError);
      expect((error as Error).message).toMatch(/timed out|timeout/i);
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('keeps the query string of the URL out of the error', async () => {
      server.answer = (res) => {
        res.writeHead(500);
        res.end();
      };
      const url = new URL(server.url);
      url.search = '?key=s3cret';
      const verifier = new JwtVerifier({ jwksUrl: url.toString() });
      const error = (await verifier
        .verify(await tokenFor())
        .catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(JwksUnavailableError);
      expect(error.message).not.toContain('s3cret');
    });

    it('goes on with the keys it fetched last while the server fails, up to staleIfErrorMs', async () => {
      const start = Date.now();
      vi.useFakeTimers({ now: start, toFake: ['Date'] });
      const verifier = new JwtVerifier(
        { jwksUrl: server.url },
        { maxAgeMs: 1_000, cooldownMs: 5_000, staleIfErrorMs: 60_000 },
      );
      const token = await sign(
        es.privateKey,
        { alg: 'ES256', kid: 'es-1' },
        {
          exp: nowSec() + 3600,
        },
      );
      expect(await verifier.verify(token)).not.toBeNull();
      server.answer = (res) => {
        res.writeHead(503);
        res.end();
      };
      vi.setSystemTime(start + 2_000); // past maxAge: jose fetches again, and fails
      expect(await verifier.verify(token)).not.toBeNull();
      expect(server.requests).toBe(2);
      // Within the cooldown after a failure, the server is not asked again.
      expect(await verifier.verify(token)).not.toBeNull();
      expect(server.requests).toBe(2);
      // An unknown kid may be a new key: only the server can say, so 503, not 401.
      const stranger = await keyPair('ES256', 'es-new');
      const unknown = await sign(stranger.privateKey, {
        alg: 'ES256',
        kid: 'es-new',
      });
      await expect(verifier.verify(unknown)).rejects.toBeInstanceOf(
        JwksUnavailableError,
      );
      // Past the cooldown it asks again, and still serves from the last keys.
      vi.setSystemTime(start + 8_000);
      expect(await verifier.verify(token)).not.toBeNull();
      expect(server.requests).toBe(3);
      // Past staleIfErrorMs the old keys are no longer trusted.
      vi.setSystemTime(start + 61_000);
      await expect(verifier.verify(token)).rejects.toBeInstanceOf(
        JwksUnavailableError,
      );
      // The server back: fetched again, accepted again.
      server.answer = (res) => server.sendKeys(res);
      vi.setSystemTime(start + 70_000);
      expect(await verifier.verify(token)).not.toBeNull();
    });

    it('recovers as soon as the server does when it has no keys to fall back on', async () => {
      server.answer = (res) => {
        res.writeHead(500);
        res.end();
      };
      const verifier = new JwtVerifier({ jwksUrl: server.url });
      const token = await tokenFor();
      await expect(verifier.verify(token)).rejects.toBeInstanceOf(
        JwksUnavailableError,
      );
      server.answer = (res) => server.sendKeys(res);
      expect(await verifier.verify(token)).not.toBeNull();
      expect(server.requests).toBe(2);
    });
  });
});
