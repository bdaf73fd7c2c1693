import { createHmac } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { CompositeVerifier } from '../auth/composite.verifier.js';
import { JwtVerifier } from '../auth/jwt.verifier.js';
import { StaticTokenVerifier } from '../auth/static-token.verifier.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
} from '../gateway.options.js';
import {
  ConsoleAccess,
  cookieValue,
  LoginThrottledError,
  SESSION_COOKIE,
  type ConsoleUser,
} from './console-access.js';
import { LOGIN_WINDOW_MS, MAX_FAILED_LOGINS } from './login-throttle.js';

const ADMIN = 'alice-admin-secret-0123456789';
const VIEWER = 'bob-viewer-secret-0123456789';
const TOKENS = `alice:admin:${ADMIN},bob:viewer:${VIEWER}`;
const CLIENT = 'a-client-token-0123456789';
/** A client's static token shaped like a JWT: the verifier accepts it, without claims. */
const CLIENT_DOTTED = 'client.token.dotted';
const JWT_SECRET = 'an-hs256-secret-of-at-least-32-bytes!!';
const TTL = 8 * 3_600_000;
const T0 = 1_900_000_000_000;
/** The address of the requests whose failures are not counted here. */
const ADDRESS = '10.0.0.1';

/** ConsoleAccess as the module builds it: the options resolved, the module's verifier. */
function accessOf(options: GatewayOptions): ConsoleAccess {
  const resolved = resolveGatewayOptions(options);
  const { auth } = resolved;
  const jwt = auth.jwt ? new JwtVerifier(auth.jwt) : undefined;
  const verifier: TokenVerifier = jwt
    ? new CompositeVerifier([new StaticTokenVerifier(auth.tokens), jwt])
    : new StaticTokenVerifier(auth.tokens);
  return new ConsoleAccess(resolved, verifier);
}

const withTokens = (tokens: string, more: GatewayOptions = {}) =>
  accessOf({
    ...more,
    auth: { tokens: [CLIENT, CLIENT_DOTTED], ...more.auth },
    console: { tokens, ...more.console },
  });

const cookieOf = (value: string) => ({
  cookie: `theme=dark; ${SESSION_COOKIE}=${value}; other=1`,
});

const sign = (claims: JWTPayload, secret = JWT_SECRET) =>
  new SignJWT({ exp: Math.floor(Date.now() / 1000) + 3_600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(secret));

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => {
      throw new Error('accepted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('ConsoleAccess', () => {
  describe('logins and session cookies', () => {
    it('logs in with a console secret: the user, a signed cookie, its CSRF token, the session end', async () => {
      const access = withTokens(TOKENS);
      expect(access.enabled).toBe(true);
      const login = await access.login(ADMIN, '10.0.0.1', T0);
      expect(login.user).toEqual({
        name: 'alice',
        role: 'admin',
        via: 'cookie',
        expiresAt: T0 + TTL,
        session: login.cookie,
      });
      expect(login.expiresAt).toBe(T0 + TTL);
      expect(login.cookie).toMatch(/^[\w-]+\.[\w-]+$/);
      expect(login.cookie).not.toContain(ADMIN);
      expect(login.csrf).toBe(access.csrfOf(login.cookie));
      expect(
        await access.authenticate(cookieOf(login.cookie), ADDRESS, T0 + 1),
      ).toEqual(login.user);
      const viewer = await access.login(VIEWER, '10.0.0.1', T0);
      expect(viewer.user).toMatchObject({ name: 'bob', role: 'viewer' });
      expect(viewer.csrf).not.toBe(login.csrf);
    });

    it('refuses a wrong or empty secret, and one that is not a string, with UNAUTHORIZED', async () => {
      const access = withTokens(TOKENS);
      const tokens = [`${ADMIN}x`, '', undefined, 42, { token: ADMIN }];
      for (const [i, token] of tokens.entries())
        expect(
          (await refusal(access.login(token, `10.0.1.${i}`, T0))).code,
        ).toBe(ErrorCode.UNAUTHORIZED);
    });

    it('refuses a tampered cookie', async () => {
      const access = withTokens(TOKENS);
      const { cookie } = await access.login(VIEWER, '10.0.0.1', T0);
      const [body, mac] = cookie.split('.');
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as {
        u: string;
        r: string;
        e: number;
      };
      const reencoded = (changes: object) =>
        Buffer.from(JSON.stringify({ ...payload, ...changes })).toString(
          'base64url',
        );
      const flip = (s: string, at: number) =>
        s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
      const tampered = [
        `${reencoded({ r: 'admin' })}.${mac}`,
        `${reencoded({ u: 'alice' })}.${mac}`,
        `${reencoded({ e: payload.e + 3_600_000 })}.${mac}`,
        `${body}.${flip(mac, 3)}`,
        `${flip(body, 5)}.${mac}`,
        `${body}.${mac.slice(0, -2)}`,
        `${body}.`,
        `.${mac}`,
        body,
        mac,
        `${body}.${mac}.${mac}`,
        // Signed with a key of the attacker's choosing.
        `${reencoded({ r: 'admin' })}.${createHmac('sha256', 'guess')
          .update(reencoded({ r: 'admin' }))
          .digest('base64url')}`,
        'x'.repeat(2_000),
        '',
      ];
      for (const value of tampered)
        expect(
          await access.authenticate(cookieOf(value), ADDRESS, T0 + 1),
          value,
        ).toBeUndefined();
      expect(await access.authenticate({}, ADDRESS, T0 + 1)).toBeUndefined();
      expect(
        await access.authenticate(
          { cookie: `other=${cookie}` },
          ADDRESS,
          T0 + 1,
        ),
      ).toBeUndefined();
    });

    it('ends a session at its expiry', async () => {
      const access = withTokens(TOKENS, {
        console: { sessionTtlMs: 60_000 },
      });
      const { cookie, expiresAt } = await access.login(ADMIN, '10.0.0.1', T0);
      expect(expiresAt).toBe(T0 + 60_000);
      expect(
        await access.authenticate(cookieOf(cookie), ADDRESS, T0 + 59_999),
      ).toMatchObject({ name: 'alice' });
      expect(
        await access.authenticate(cookieOf(cookie), ADDRESS, T0 + 60_000),
      ).toBeUndefined();
      expect(
        await access.authenticate(cookieOf(cookie), ADDRESS, T0 + TTL),
      ).toBeUndefined();
    });

    it('accepts a session on another instance with the same CONSOLE_TOKENS, in any order, and refuses it after a change of credentials', async () => {
      const here = withTokens(TOKENS);
      const { cookie, csrf, user } = await here.login(ADMIN, '10.0.0.1', T0);
      const same = [
        withTokens(TOKENS),
        withTokens(`bob:viewer:${VIEWER},alice:admin:${ADMIN}`),
      ];
      for (const there of same) {
        const found = await there.authenticate(
          cookieOf(cookie),
          ADDRESS,
          T0 + 1,
        );
        expect(found).toEqual(user);
        expect(there.csrfValid(found!, csrf)).toBe(true);
      }
      const changed = [
        withTokens(`alice:admin:${ADMIN}x,bob:viewer:${VIEWER}`),
        withTokens(`alice:admin:${ADMIN},bob:viewer:${VIEWER}x`),
        withTokens(`alice:admin:${ADMIN},bob:admin:${VIEWER}`),
        withTokens(`alice:admin:${ADMIN}`),
        withTokens(`${TOKENS},carol:viewer:carol-viewer-secret-0123`),
        withTokens(`alicia:admin:${ADMIN},bob:viewer:${VIEWER}`),
        // The JWT secret is part of the key too.
        withTokens(TOKENS, { auth: { jwt: { secret: JWT_SECRET } } }),
      ];
      for (const there of changed)
        expect(
          await there.authenticate(cookieOf(cookie), ADDRESS, T0 + 1),
        ).toBeUndefined();
    });

    it('reads the session cookie among others', () => {
      expect(cookieValue('a=1; gw_console=abc.def; b=2', SESSION_COOKIE)).toBe(
        'abc.def',
      );
      expect(cookieValue('gw_console=x', SESSION_COOKIE)).toBe('x');
      expect(cookieValue('xgw_console=x', SESSION_COOKIE)).toBeUndefined();
      expect(cookieValue('gw_console', SESSION_COOKIE)).toBeUndefined();
      expect(cookieValue(undefined, SESSION_COOKIE)).toBeUndefined();
    });
  });

  describe('the CSRF token', () => {
    it('is required of a cookie session, and is that session’s own', async () => {
      const access = withTokens(TOKENS);
      const admin = await access.login(ADMIN, '10.0.0.1', T0);
      const other = await access.login(ADMIN, '10.0.0.1', T0 + 1);
      const viewer = await access.login(VIEWER, '10.0.0.1', T0);
      const user = (await access.authenticate(
        cookieOf(admin.cookie),
        ADDRESS,
        T0 + 2,
      ))!;
      expect(access.csrfValid(user, admin.csrf)).toBe(true);
      expect(access.csrfValid(user, undefined)).toBe(false);
      expect(access.csrfValid(user, '')).toBe(false);
      expect(access.csrfValid(user, viewer.csrf)).toBe(false);
      expect(access.csrfValid(user, other.csrf)).toBe(false);
      expect(access.csrfValid(user, `${admin.csrf}x`)).toBe(false);
      expect(access.csrfValid(user, admin.csrf.slice(1))).toBe(false);
      expect(access.csrfValid(user, admin.cookie)).toBe(false);
      // Another configuration's token for the same cookie value is not this one's.
      expect(withTokens(`alice:admin:${ADMIN}`).csrfOf(admin.cookie)).not.toBe(
        admin.csrf,
      );
      const noSession: ConsoleUser = { ...user, session: undefined };
      expect(access.csrfValid(noSession, admin.csrf)).toBe(false);
    });

    it('is not needed with a bearer credential', async () => {
      const access = withTokens(TOKENS);
      const user = (await access.authenticate(
        {
          authorization: `Bearer ${ADMIN}`,
        },
        ADDRESS,
      ))!;
      expect(user.via).toBe('bearer');
      expect(access.csrfValid(user, undefined)).toBe(true);
    });
  });

  describe('bearer credentials', () => {
    it('accepts a console secret as a bearer credential, in any case of the scheme', async () => {
      const access = withTokens(TOKENS);
      for (const authorization of [
        `Bearer ${ADMIN}`,
        `bearer ${ADMIN}`,
        `BEARER   ${ADMIN} `,
      ])
        expect(await access.authenticate({ authorization }, ADDRESS)).toEqual({
          name: 'alice',
          role: 'admin',
          via: 'bearer',
          expiresAt: undefined,
        });
      expect(
        await access.authenticate(
          { authorization: `Bearer ${VIEWER}` },
          ADDRESS,
        ),
      ).toMatchObject({ name: 'bob', role: 'viewer', via: 'bearer' });
    });

    it('refuses a wrong secret, another scheme, a client token, and does not fall back to the cookie', async () => {
      const access = withTokens(TOKENS);
      const { cookie } = await access.login(ADMIN, '10.0.0.1', Date.now());
      const refused = [
        `Bearer ${ADMIN}x`,
        `Basic ${ADMIN}`,
        ADMIN,
        'Bearer',
        `Bearer ${CLIENT}`,
        `Bearer ${CLIENT_DOTTED}`,
      ];
      for (const [i, authorization] of refused.entries())
        expect(
          await access.authenticate(
            { authorization, ...cookieOf(cookie) },
            `10.0.5.${i}`,
          ),
          authorization,
        ).toBeUndefined();
    });
  });

  describe('the clients’ credentials', () => {
    it('never logs in with a client’s static token, even one shaped like a JWT with the role claim on', async () => {
      const plain = withTokens(TOKENS);
      const jwt = withTokens(TOKENS, {
        auth: { jwt: { secret: JWT_SECRET } },
        console: { jwtRoleClaim: 'console_role' },
      });
      for (const access of [plain, jwt])
        for (const token of [CLIENT, CLIENT_DOTTED])
          expect(
            (await refusal(access.login(token, `10.0.2.${token}`, T0))).code,
          ).toBe(ErrorCode.UNAUTHORIZED);
    });

    it('refuses every login with the console off', async () => {
      const off = accessOf({ auth: { tokens: [CLIENT] } });
      expect(off.enabled).toBe(false);
      expect((await refusal(off.login(ADMIN, '10.0.0.1'))).code).toBe(
        ErrorCode.FORBIDDEN,
      );
      expect(
        await off.authenticate({ authorization: `Bearer ${ADMIN}` }, ADDRESS),
      ).toBeUndefined();
    });
  });

  describe('JWT logins', () => {
    const jwtAccess = (tokens?: string, claim = 'console_role') =>
      accessOf({
        auth: { tokens: [CLIENT], jwt: { secret: JWT_SECRET } },
        console: { tokens, jwtRoleClaim: claim },
      });

    it('logs in with a JWT whose role claim is admin or viewer, its sub the name, until the JWT ends', async () => {
      const access = jwtAccess();
      expect(access.enabled).toBe(true);
      const exp = Math.floor(Date.now() / 1000) + 600;
      const now = Date.now();
      const token = await sign({ sub: 'carol', console_role: 'admin', exp });
      const login = await access.login(token, '10.0.0.1', now);
      expect(login.user).toMatchObject({ name: 'carol', role: 'admin' });
      // The JWT ends before the session's TTL: the session ends with it (and its tolerance).
      expect(login.expiresAt).toBeGreaterThanOrEqual(exp * 1000);
      expect(login.expiresAt).toBeLessThan(now + TTL);
      expect(
        await access.authenticate(cookieOf(login.cookie), ADDRESS, now + 1),
      ).toMatchObject({ name: 'carol', role: 'admin', via: 'cookie' });
      expect(
        await access.authenticate(
          cookieOf(login.cookie),
          ADDRESS,
          login.expiresAt,
        ),
      ).toBeUndefined();

      const viewer = await sign({ sub: 'dave', console_role: 'viewer' });
      expect(
        await access.authenticate(
          { authorization: `Bearer ${viewer}` },
          ADDRESS,
        ),
      ).toMatchObject({ name: 'dave', role: 'viewer', via: 'bearer' });
    });

    it('refuses a JWT without the claim, with another value, of another claim, expired, or signed with another key', async () => {
      const access = jwtAccess(`alice:admin:${ADMIN}`);
      const refused = [
        await sign({ sub: 'carol' }),
        await sign({ sub: 'carol', console_role: 'root' }),
        await sign({ sub: 'carol', console_role: ['admin'] }),
        await sign({ sub: 'carol', role: 'admin' }),
        await sign({
          sub: 'carol',
          console_role: 'admin',
          exp: Math.floor(Date.now() / 1000) - 60,
        }),
        await sign(
          { sub: 'carol', console_role: 'admin' },
          'another-hs256-secret-of-32-bytes-or-more',
        ),
      ];
      for (const [i, token] of refused.entries()) {
        expect(
          (await refusal(access.login(token, `10.0.3.${i}`))).code,
          `token ${i}`,
        ).toBe(ErrorCode.UNAUTHORIZED);
        expect(
          await access.authenticate(
            { authorization: `Bearer ${token}` },
            `10.0.3.${i}`,
          ),
        ).toBeUndefined();
      }
      // The static secrets still work beside JWTs.
      expect((await access.login(ADMIN, '10.0.3.99')).user.name).toBe('alice');
    });

    it('never accepts a JWT without the role claim option, though clients may use it', async () => {
      const access = withTokens(TOKENS, {
        auth: { jwt: { secret: JWT_SECRET } },
      });
      const token = await sign({ sub: 'carol', console_role: 'admin' });
      expect((await refusal(access.login(token, '10.0.4.1'))).code).toBe(
        ErrorCode.UNAUTHORIZED,
      );
    });

    it('accepts the session of a JWT login on another instance with the same JWT secret', async () => {
      const token = await sign({ sub: 'carol', console_role: 'viewer' });
      const { cookie } = await jwtAccess().login(token, '10.0.0.1');
      expect(
        await jwtAccess().authenticate(cookieOf(cookie), ADDRESS),
      ).toMatchObject({
        name: 'carol',
        role: 'viewer',
      });
    });
  });

  describe('the login throttle', () => {
    it(`refuses an address after ${MAX_FAILED_LOGINS} failures within a minute, the right secret too, and not another address`, async () => {
      const access = withTokens(TOKENS);
      for (let i = 0; i < MAX_FAILED_LOGINS; i++)
        expect(
          (await refusal(access.login('wrong', '10.0.9.1', T0 + i))).code,
        ).toBe(ErrorCode.UNAUTHORIZED);
      const throttled = await refusal(access.login(ADMIN, '10.0.9.1', T0 + 10));
      expect(throttled).toBeInstanceOf(LoginThrottledError);
      expect(throttled.code).toBe(ErrorCode.RATE_LIMITED);
      expect((throttled as LoginThrottledError).retryAfterSec).toBe(60);
      expect((await access.login(ADMIN, '10.0.9.2', T0 + 10)).user.name).toBe(
        'alice',
      );
      expect(
        (await access.login(ADMIN, '10.0.9.1', T0 + LOGIN_WINDOW_MS)).user.name,
      ).toBe('alice');
    });

    it('counts a wrong bearer credential as a failed login, and then refuses every bearer credential and login of the address, not its sessions', async () => {
      const access = withTokens(TOKENS);
      const { cookie } = await access.login(VIEWER, '10.0.9.4', T0);
      for (let i = 0; i < MAX_FAILED_LOGINS; i++)
        expect(
          await access.authenticate(
            { authorization: `Bearer guess-${i}-xxxxxxxxxxxxxxx` },
            '10.0.9.4',
            T0 + i,
          ),
        ).toBeUndefined();
      for (const authorization of [`Bearer ${ADMIN}`, 'Bearer guess-again'])
        await expect(
          access.authenticate({ authorization }, '10.0.9.4', T0 + 10),
        ).rejects.toBeInstanceOf(LoginThrottledError);
      expect(
        await refusal(access.login(ADMIN, '10.0.9.4', T0 + 10)),
      ).toBeInstanceOf(LoginThrottledError);
      expect(
        await access.authenticate(cookieOf(cookie), '10.0.9.4', T0 + 10),
      ).toMatchObject({ name: 'bob', via: 'cookie' });
      expect(
        await access.authenticate(
          { authorization: `Bearer ${ADMIN}` },
          '10.0.9.5',
          T0 + 10,
        ),
      ).toMatchObject({ name: 'alice', via: 'bearer' });
      expect(
        await access.authenticate(
          { authorization: `Bearer ${ADMIN}` },
          '10.0.9.4',
          T0 + LOGIN_WINDOW_MS,
        ),
      ).toMatchObject({ name: 'alice' });
    });

    it('does not count a wrong or stale session cookie', async () => {
      const access = withTokens(TOKENS);
      for (let i = 0; i < MAX_FAILED_LOGINS * 2; i++)
        expect(
          await access.authenticate(cookieOf(`stale.${i}`), '10.0.9.6', T0 + i),
        ).toBeUndefined();
      expect((await access.login(ADMIN, '10.0.9.6', T0 + 20)).user.name).toBe(
        'alice',
      );
    });

    it('does not reset the count on a success', async () => {
      const access = withTokens(TOKENS);
      for (let i = 0; i < MAX_FAILED_LOGINS - 1; i++)
        await refusal(access.login('wrong', '10.0.9.3', T0 + i));
      await access.login(VIEWER, '10.0.9.3', T0 + 10);
      await refusal(access.login('wrong', '10.0.9.3', T0 + 11));
      expect(
        await refusal(access.login(ADMIN, '10.0.9.3', T0 + 12)),
      ).toBeInstanceOf(LoginThrottledError);
    });
  });
});
