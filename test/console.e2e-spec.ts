import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventually } from './support/eventually.js';
import { sample, scrapeMetrics } from './support/metrics.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { startApp, type RunningApp } from './support/start-app.js';
import {
  connect,
  handshakeStatus,
  HandshakeRefused,
  type Frame,
  type TestClient,
} from './support/ws-client.js';

const PAGE = resolve(import.meta.dirname, '../dist-console/index.html');

const ADMIN_SECRET = 'alice-admin-secret-0123456789';
const VIEWER_SECRET = 'bob-viewer-secret-0123456789';
const CONSOLE_TOKENS = `alice:admin:${ADMIN_SECRET},bob:viewer:${VIEWER_SECRET}`;
/** Client tokens: the i-th (from 0) is the principal `token-<i+1>`. */
const CLIENT_TOKENS = [
  'console-e2e-client-one-0123',
  'console-e2e-client-two-0123',
  'console-e2e-client-three-01',
  'console-e2e-client-four-012',
];
const STATS_MS = 200;

/** A console session made by a login: the `Cookie` header to send and its CSRF token. */
interface Session {
  cookie: string;
  csrf: string;
  /** The `Set-Cookie` header of the login. */
  setCookie: string;
  user: string;
  role: string;
  expiresAt: number;
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

interface CallOptions {
  session?: Session;
  bearer?: string;
  /** With a session: the CSRF header's value; false sends none. Default the session's. */
  csrf?: string | false;
  origin?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request to the console's API (`path` under /console/api), with real HTTP. */
async function api(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.session) {
    headers.Cookie = options.session.cookie;
    const csrf = options.csrf ?? options.session.csrf;
    if (csrf !== false) headers['X-CSRF-Token'] = csrf;
  }
  if (options.bearer) headers.Authorization = `Bearer ${options.bearer}`;
  if (options.origin) headers.Origin = options.origin;
  if (method === 'POST') headers['Content-Type'] = 'application/json';
  const res = await fetch(
    `${base}/console/api${path}`,
    method === 'POST'
      ? { method, headers, body: JSON.stringify(options.body ?? {}) }
      : { method, headers },
  );
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: kept as text, for the assertion to show.
  }
  return { status: res.status, body, headers: res.headers };
}

/** A POST of raw text as JSON, with the admin's bearer secret. */
async function postText(base: string, path: string, text: string) {
  const res = await fetch(`${base}/console/api${path}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${ADMIN_SECRET}`,
      'Content-Type': 'application/json',
    },
    body: text,
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

/** Logs in with `secret`; fails the test unless the login succeeds. */
async function login(
  base: string,
  secret: string,
  headers: Record<string, string> = {},
): Promise<Session> {
  const res = await api(base, 'POST', '/login', {
    body: { token: secret },
    headers,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const setCookie = res.headers.getSetCookie().join('\n');
  const value = /^gw_console=([^;]*)/.exec(setCookie)?.[1];
  expect(value, setCookie).toBeTruthy();
  return {
    cookie: `gw_console=${value}`,
    csrf: res.body.csrf,
    setCookie,
    user: res.body.user,
    role: res.body.role,
    expiresAt: res.body.expiresAt,
  };
}

/** The attributes of a `Set-Cookie` header, names in lower case. */
function cookieAttributes(setCookie: string): Map<string, string> {
  const [, ...parts] = setCookie.split(';');
  return new Map(
    parts.map((part) => {
      const [name, ...value] = part.trim().split('=');
      return [name.toLowerCase(), value.join('=')];
    }),
  );
}

/** The next frame of `event`, skipping the others (the instances frames of every interval). */
async function nextOf(
  client: TestClient,
  event: string,
  timeoutMs = 5_000,
): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${event} frame within ${timeoutMs} ms`);
    const frame = await client.nextJson(left).catch(() => undefined);
    if (frame === undefined)
      throw new Error(`no ${event} frame within ${timeoutMs} ms`);
    if (frame.event === event) return frame;
  }
}

/** Fails when a frame other than `instances` arrives within `ms`. */
async function expectOnlyInstances(client: TestClient, ms = 400) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    const frame = await client.nextJson(left).catch(() => undefined);
    if (frame === undefined) return;
    expect(frame.event).toBe('instances');
  }
}

const ACTIONS = ['publish', 'broadcast', 'send', 'disconnect'] as const;
type Action = (typeof ACTIONS)[number];

const READS = [
  '/session',
  '/instances',
  '/rooms',
  '/connections',
  '/errors',
] as const;

describe('the web console on one instance (e2e)', () => {
  let gw: SpawnedGateway;
  let base: string;
  let wsUrl: string;
  let consoleUrl: string;
  let admin: Session;
  let viewer: Session;
  const clients: TestClient[] = [];
  const consoles: TestClient[] = [];
  /** A fresh address per use, for logins that must not share the throttle of 127.0.0.1. */
  let nextAddress = 10;
  const freshAddress = () => `203.0.113.${nextAddress++}`;

  /** A client of the gateway with the i-th token, seen from `address` (through the trusted proxy). */
  const client = async (index = 0, address?: string) => {
    const c = await connect(wsUrl, {
      token: CLIENT_TOKENS[index],
      headers: address ? { 'X-Forwarded-For': address } : {},
    });
    clients.push(c);
    return c;
  };

  const consoleSocket = async (headers: Record<string, string>) => {
    const c = await connect(consoleUrl, { headers });
    consoles.push(c);
    return c;
  };

  /** The audit line of one action, waiting for it. */
  const auditLine = (fields: Record<string, unknown>) =>
    gw.waitForLine(
      (line) =>
        line.context === 'ConsoleAudit' &&
        Object.entries(fields).every(([key, value]) => line[key] === value),
      5_000,
    );

  /** The one connection at `address`, as /connections lists it. */
  const connectionAt = async (address: string) => {
    const res = await api(base, 'GET', `/connections?q=${address}`, {
      bearer: VIEWER_SECRET,
    });
    expect(res.status).toBe(200);
    expect(res.body.connections).toHaveLength(1);
    return res.body.connections[0] as {
      id: string;
      rooms: string[];
      messagesIn: number;
      messagesOut: number;
    };
  };

  beforeAll(async () => {
    if (!existsSync(PAGE))
      throw new Error(
        `${PAGE} is missing: run "npm run build:console" first (npm test does it)`,
      );
    gw = await spawnGateway({
      AUTH_TOKENS: CLIENT_TOKENS.join(','),
      CONSOLE_TOKENS,
      CONSOLE_STATS_INTERVAL_MS: String(STATS_MS),
      TRUSTED_PROXIES: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    base = `http://127.0.0.1:${gw.port}`;
    wsUrl = `ws://127.0.0.1:${gw.port}/`;
    consoleUrl = `ws://127.0.0.1:${gw.port}/console/ws`;
    [admin, viewer] = await Promise.all([
      login(base, ADMIN_SECRET),
      login(base, VIEWER_SECRET),
    ]);
  });
  afterAll(async () => {
    await gw?.stop();
  });
  afterEach(async () => {
    await Promise.all(
      [...clients.splice(0), ...consoles.splice(0)].map((c) => c.close()),
    );
    await eventually(
      async () =>
        sample(await scrapeMetrics(base), 'gateway_connections_open') === 0,
      'every client to be closed',
    );
  });

  describe('HTTP API', () => {
    it('answers 401 UNAUTHORIZED on every endpoint without credentials, with a client token or a forged cookie', async () => {
      const forged = { ...admin, cookie: `${admin.cookie.slice(0, -2)}xx` };
      const attempts: CallOptions[] = [
        {},
        { bearer: CLIENT_TOKENS[0] },
        { session: forged },
        { headers: { Cookie: 'gw_console=' } },
      ];
      // Each from its own address: wrong bearer credentials count as failed logins.
      const from = (options: CallOptions): CallOptions => ({
        ...options,
        headers: { ...options.headers, 'X-Forwarded-For': freshAddress() },
      });
      for (const options of attempts) {
        for (const path of READS) {
          const res = await api(base, 'GET', path, from(options));
          expect(res.status, `GET ${path}`).toBe(401);
          expect(res.body.error.code).toBe('UNAUTHORIZED');
        }
        for (const action of ACTIONS) {
          const res = await api(base, 'POST', `/${action}`, {
            ...from(options),
            body: { room: 'r', connectionId: 'x-1', data: 1 },
          });
          expect(res.status, `POST /${action}`).toBe(401);
          expect(res.body.error.code).toBe('UNAUTHORIZED');
        }
      }
    });

    it('logs in with a console secret: the session, and a cookie that is HttpOnly, SameSite=Strict, Path=/console, not Secure over plain HTTP', async () => {
      const before = Date.now();
      const session = await login(base, ADMIN_SECRET);
      expect(session).toMatchObject({ user: 'alice', role: 'admin' });
      expect(session.csrf).toMatch(/^[\w-]{20,}$/);
      expect(session.expiresAt).toBeGreaterThan(before + 7 * 3_600_000);
      const attributes = cookieAttributes(session.setCookie);
      expect(attributes.has('httponly')).toBe(true);
      expect(attributes.get('samesite')).toBe('Strict');
      expect(attributes.get('path')).toBe('/console');
      expect(attributes.has('secure')).toBe(false);
      expect(Number(attributes.get('max-age'))).toBeGreaterThan(7 * 3_600);

      const read = await api(base, 'GET', '/session', { session });
      expect(read.status).toBe(200);
      expect(read.headers.get('cache-control')).toBe('no-store');
      expect(read.body).toEqual({
        user: 'alice',
        role: 'admin',
        csrf: session.csrf,
        expiresAt: session.expiresAt,
      });
      const bearer = await api(base, 'GET', '/session', {
        bearer: VIEWER_SECRET,
      });
      expect(bearer.status).toBe(200);
      expect(bearer.body).toEqual({ user: 'bob', role: 'viewer' });
    });

    it('sets the cookie Secure when a trusted proxy says the request came over https', async () => {
      const session = await login(base, VIEWER_SECRET, {
        'X-Forwarded-Proto': 'https',
      });
      expect(cookieAttributes(session.setCookie).has('secure')).toBe(true);
    });

    it('logout answers 204, clears the cookie, and ends that session only, its console sockets too', async () => {
      const [leaving, staying] = await Promise.all([
        login(base, VIEWER_SECRET),
        login(base, VIEWER_SECRET),
      ]);
      const socket = await consoleSocket({
        Cookie: leaving.cookie,
        Origin: base,
      });
      expect((await socket.nextJson()).event).toBe('hello');
      const res = await api(base, 'POST', '/logout', { session: leaving });
      expect(res.status).toBe(204);
      const setCookie = res.headers.getSetCookie().join('\n');
      expect(setCookie).toMatch(/^gw_console=;/);
      const attributes = cookieAttributes(setCookie);
      expect(attributes.get('max-age')).toBe('0');
      expect(attributes.get('path')).toBe('/console');
      // A copy of the cookie kept elsewhere no longer works; the other session still does.
      expect(
        (await api(base, 'GET', '/session', { session: leaving })).status,
      ).toBe(401);
      expect(
        (await api(base, 'GET', '/session', { session: staying })).status,
      ).toBe(200);
      expect((await socket.closed).code).toBe(4401);
      expect(
        await handshakeStatus(consoleUrl, {
          headers: { Cookie: leaving.cookie, Origin: base },
        }),
      ).toMatchObject({ status: 401 });
    });

    it('refuses a wrong secret with 401, the sixth failure within a minute with 429 and Retry-After, then even the right secret, from that address only', async () => {
      const address = freshAddress();
      const from = { 'X-Forwarded-For': address };
      for (let i = 1; i <= 5; i++) {
        const res = await api(base, 'POST', '/login', {
          body: { token: `wrong-secret-number-${i}-xxxxxxxx` },
          headers: from,
        });
        expect(res.status, `failure ${i}`).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
        expect(res.headers.getSetCookie()).toEqual([]);
      }
      const sixth = await api(base, 'POST', '/login', {
        body: { token: 'wrong-secret-number-6-xxxxxxxx' },
        headers: from,
      });
      expect(sixth.status).toBe(429);
      expect(sixth.body.error.code).toBe('RATE_LIMITED');
      const retryAfter = Number(sixth.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const right = await api(base, 'POST', '/login', {
        body: { token: ADMIN_SECRET },
        headers: from,
      });
      expect(right.status).toBe(429);
      expect(right.headers.getSetCookie()).toEqual([]);
      // Another address is not affected.
      await login(base, ADMIN_SECRET, { 'X-Forwarded-For': freshAddress() });
    });

    it('throttles guessed bearer secrets as failed logins: after five, every bearer credential and login from that address is 429, not its cookie sessions', async () => {
      const address = freshAddress();
      const from = { 'X-Forwarded-For': address };
      const session = await login(base, VIEWER_SECRET, from);
      for (let i = 1; i <= 5; i++) {
        const res = await api(base, 'GET', READS[i % READS.length], {
          bearer: `guessed-secret-number-${i}-xxxxx`,
          headers: from,
        });
        expect(res.status, `guess ${i}`).toBe(401);
      }
      for (const bearer of ['guessed-secret-number-6-xxxxx', ADMIN_SECRET]) {
        const res = await api(base, 'GET', '/session', {
          bearer,
          headers: from,
        });
        expect(res.status).toBe(429);
        expect(res.body.error.code).toBe('RATE_LIMITED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      const posted = await api(base, 'POST', '/broadcast', {
        bearer: ADMIN_SECRET,
        headers: from,
        body: { data: 'guessed' },
      });
      expect(posted.status).toBe(429);
      const form = await api(base, 'POST', '/login', {
        body: { token: ADMIN_SECRET },
        headers: from,
      });
      expect(form.status).toBe(429);
      const socket = await handshakeStatus(consoleUrl, {
        headers: { Authorization: `Bearer ${ADMIN_SECRET}`, ...from },
      });
      expect((socket as HandshakeRefused).status).toBe(429);
      expect((socket as HandshakeRefused).headers['retry-after']).toBeDefined();
      // A session made before goes on; another address is not touched.
      expect(
        (await api(base, 'GET', '/session', { session, headers: from })).status,
      ).toBe(200);
      expect(
        (
          await api(base, 'GET', '/session', {
            bearer: ADMIN_SECRET,
            headers: { 'X-Forwarded-For': freshAddress() },
          })
        ).status,
      ).toBe(200);
    });

    it('never logs a client token into the console, nor lets a console secret open a client WebSocket', async () => {
      for (const token of [CLIENT_TOKENS[0], CLIENT_TOKENS[1]]) {
        const res = await api(base, 'POST', '/login', {
          body: { token },
          headers: { 'X-Forwarded-For': freshAddress() },
        });
        expect(res.status).toBe(401);
        expect(res.headers.getSetCookie()).toEqual([]);
      }
      for (const token of [ADMIN_SECRET, VIEWER_SECRET]) {
        const refused = await handshakeStatus(wsUrl, { token });
        expect(refused).toBeInstanceOf(HandshakeRefused);
        expect((refused as HandshakeRefused).status).toBe(401);
      }
      // Nor does a console session's cookie.
      const refused = await handshakeStatus(wsUrl, {
        headers: { Cookie: admin.cookie },
      });
      expect((refused as HandshakeRefused).status).toBe(401);
    });

    it('refuses a login from a foreign Origin with 403', async () => {
      const res = await api(base, 'POST', '/login', {
        body: { token: ADMIN_SECRET },
        origin: 'https://evil.example',
      });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.headers.getSetCookie()).toEqual([]);
    });

    it('lets a viewer read every list, with the cookie and with a bearer secret', async () => {
      for (const options of [
        { session: viewer },
        { bearer: VIEWER_SECRET },
      ] as CallOptions[]) {
        for (const path of READS) {
          const res = await api(base, 'GET', path, options);
          expect(res.status, `GET ${path}`).toBe(200);
        }
      }
    });

    it('refuses every action of a viewer with 403, an audit line "refused: not an admin", and nothing done', async () => {
      const member = await client(0, '198.51.100.1');
      await member.request('join', { room: 'viewer-room' }, 1);
      const { id } = await connectionAt('198.51.100.1');
      const bodies: Record<Action, unknown> = {
        publish: { room: 'viewer-room', data: 'from a viewer' },
        broadcast: { data: 'from a viewer' },
        send: { connectionId: id, data: 'from a viewer' },
        disconnect: { connectionId: id },
      };
      const targets: Record<Action, string> = {
        publish: 'viewer-room',
        broadcast: '*',
        send: id,
        disconnect: id,
      };
      for (const [via, options] of [
        ['cookie', { session: viewer }],
        ['bearer', { bearer: VIEWER_SECRET }],
      ] as const) {
        for (const action of ACTIONS) {
          const res = await api(base, 'POST', `/${action}`, {
            ...options,
            body: bodies[action],
          });
          expect(res.status, `${via} ${action}`).toBe(403);
          expect(res.body.error.code).toBe('FORBIDDEN');
          expect(res.body.error.message).toContain('admin');
        }
      }
      for (const action of ACTIONS) {
        const line = await auditLine({
          user: 'bob',
          action,
          target: targets[action],
          result: 'refused: not an admin',
        });
        expect(line).toMatchObject({ role: 'viewer', msg: 'console action' });
      }
      // Eight refusals: four actions, with the cookie and with the bearer secret.
      const refusedLines = () =>
        gw
          .lines()
          .filter(
            (l) =>
              l.context === 'ConsoleAudit' &&
              l.user === 'bob' &&
              l.result === 'refused: not an admin',
          ).length;
      await eventually(() => refusedLines() >= 8, 'eight audit lines');
      await member.expectSilence(200);
      expect(await member.request('echo', 'still here', 2)).toMatchObject({
        data: 'still here',
      });
    });

    it('an admin publishes to a room: a member gets it from "console:alice", with an audit line', async () => {
      const member = await client(0);
      const outsider = await client(1);
      await member.request('join', { room: 'console-pub' }, 1);
      const data = { text: 'hello from the console', n: [1, 2, { x: null }] };
      const res = await api(base, 'POST', '/publish', {
        session: admin,
        body: { room: 'console-pub', data },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        room: 'console-pub',
        recipients: 1,
        instances: 1,
        offset: expect.any(Number),
        epoch: expect.any(String),
      });
      expect(await member.nextJson()).toEqual({
        event: 'message',
        data: {
          room: 'console-pub',
          from: 'console:alice',
          data,
          offset: res.body.offset,
        },
      });
      await outsider.expectSilence(150);
      expect(
        await auditLine({
          user: 'alice',
          action: 'publish',
          target: 'console-pub',
        }),
      ).toMatchObject({
        role: 'admin',
        result: 'ok',
        address: '127.0.0.1',
        level: 30,
      });
    });

    it('an admin broadcasts to every client; with a bearer secret no CSRF token is needed', async () => {
      const [one, two] = await Promise.all([client(0), client(1)]);
      const res = await api(base, 'POST', '/broadcast', {
        bearer: ADMIN_SECRET,
        body: { data: { notice: 'maintenance at noon' } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ recipients: 2, instances: 1 });
      for (const c of [one, two])
        expect(await c.nextJson()).toEqual({
          event: 'broadcast',
          data: {
            from: 'console:alice',
            data: { notice: 'maintenance at noon' },
          },
        });
      await auditLine({ action: 'broadcast', target: '*', result: 'ok' });
    });

    it('an admin sends one connection a push with the given event, or "message"', async () => {
      const target = await client(0, '198.51.100.2');
      const other = await client(1, '198.51.100.3');
      const { id } = await connectionAt('198.51.100.2');
      const res = await api(base, 'POST', '/send', {
        session: admin,
        body: { connectionId: id, event: 'notice', data: { a: 1 } },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sent: true });
      expect(await target.nextJson()).toEqual({
        event: 'notice',
        data: { a: 1 },
      });
      const plain = await api(base, 'POST', '/send', {
        bearer: ADMIN_SECRET,
        body: { connectionId: id, data: 'plain' },
      });
      expect(plain.body).toEqual({ sent: true });
      expect(await target.nextJson()).toEqual({
        event: 'message',
        data: 'plain',
      });
      await other.expectSilence(150);
      const nobody = await api(base, 'POST', '/send', {
        bearer: ADMIN_SECRET,
        body: { connectionId: 'ffffffff-zz', data: 1 },
      });
      expect(nobody.status).toBe(200);
      expect(nobody.body).toEqual({ sent: false });
      await auditLine({ action: 'send', target: id, result: 'ok' });
    });

    it('an admin disconnects a connection with the given code and reason, or 4000', async () => {
      const first = await client(0, '198.51.100.4');
      const second = await client(1, '198.51.100.5');
      const a = await connectionAt('198.51.100.4');
      const b = await connectionAt('198.51.100.5');
      const res = await api(base, 'POST', '/disconnect', {
        session: admin,
        body: { connectionId: a.id, code: 4321, reason: 'bye for now' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ closed: true });
      expect(await first.closed).toEqual({ code: 4321, reason: 'bye for now' });
      const byDefault = await api(base, 'POST', '/disconnect', {
        bearer: ADMIN_SECRET,
        body: { connectionId: b.id },
      });
      expect(byDefault.body).toEqual({ closed: true });
      expect(await second.closed).toEqual({
        code: 4000,
        reason: 'disconnected by an operator',
      });
      const again = await api(base, 'POST', '/disconnect', {
        bearer: ADMIN_SECRET,
        body: { connectionId: a.id },
      });
      expect(again.body).toEqual({ closed: false });
      await auditLine({ action: 'disconnect', target: a.id, result: 'ok' });
      // An id of an instance nobody has heard of: nothing to close, and nobody to wait for.
      const elsewhere = await api(base, 'POST', '/disconnect', {
        bearer: ADMIN_SECRET,
        body: { connectionId: 'no-such-instance-1' },
      });
      expect(elsewhere).toMatchObject({ status: 200, body: { closed: false } });
    });

    it('refuses a cookie POST without the CSRF token, with a wrong one, or from a foreign Origin: 403, audited, nothing done', async () => {
      const member = await client(0, '198.51.100.6');
      await member.request('join', { room: 'csrf-room' }, 1);
      const { id } = await connectionAt('198.51.100.6');
      const bodies: Record<Action, unknown> = {
        publish: { room: 'csrf-room', data: 'forged' },
        broadcast: { data: 'forged' },
        send: { connectionId: id, data: 'forged' },
        disconnect: { connectionId: id, code: 4001 },
      };
      const wrong = `${admin.csrf.slice(0, -4)}AAAA`;
      const variants: Array<[string, CallOptions]> = [
        ['no token', { session: admin, csrf: false }],
        ['a wrong token', { session: admin, csrf: wrong }],
        ["another session's token", { session: admin, csrf: viewer.csrf }],
        [
          'a foreign Origin',
          { session: admin, origin: 'https://evil.example' },
        ],
        ['an Origin of "null"', { session: admin, origin: 'null' }],
      ];
      for (const [what, options] of variants)
        for (const action of ACTIONS) {
          const res = await api(base, 'POST', `/${action}`, {
            ...options,
            body: bodies[action],
          });
          expect(res.status, `${action} with ${what}`).toBe(403);
          expect(res.body.error).toEqual({
            code: 'FORBIDDEN',
            message: expect.stringContaining('cross-site'),
          });
        }
      await auditLine({
        user: 'alice',
        action: 'disconnect',
        target: id,
        result: 'refused: cross-site request',
      });
      await member.expectSilence(200);
      expect(await member.request('echo', 'untouched', 2)).toMatchObject({
        data: 'untouched',
      });
      // The console's own origin, with the token, goes through.
      const own = await api(base, 'POST', '/publish', {
        session: admin,
        origin: base,
        body: { room: 'csrf-room', data: 'genuine' },
      });
      expect(own.status).toBe(200);
      expect((await member.nextJson()).data).toMatchObject({
        data: 'genuine',
      });
    });

    it('answers bad input with 400 BAD_REQUEST', async () => {
      const target = await client(0, '198.51.100.7');
      const { id } = await connectionAt('198.51.100.7');
      const posts: Array<[Action, unknown]> = [
        ['publish', { room: '', data: 1 }],
        ['publish', { room: 'has space', data: 1 }],
        ['publish', { room: 'x'.repeat(1000), data: 1 }],
        ['publish', { data: 1 }],
        ['send', { data: 1 }],
        ['send', { connectionId: id, event: 'error', data: 1 }],
        ['send', { connectionId: id, event: 'no spaces', data: 1 }],
        ['disconnect', { connectionId: id, code: 1001 }],
        ['disconnect', { connectionId: id, code: 5000 }],
        ['disconnect', { connectionId: id, code: 2999 }],
        ['disconnect', { connectionId: id, code: '4000' }],
        ['disconnect', { connectionId: id, reason: 'é'.repeat(62) }],
        ['disconnect', { connectionId: id, reason: 42 }],
        ['disconnect', {}],
      ];
      for (const [action, body] of posts) {
        const res = await api(base, 'POST', `/${action}`, {
          bearer: ADMIN_SECRET,
          body,
        });
        expect(res.status, `${action} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body.error.code).toBe('BAD_REQUEST');
      }
      for (const path of [
        '/rooms?limit=0',
        '/connections?limit=0',
        '/errors?limit=0',
        '/rooms?limit=-1',
        '/connections?limit=two',
        `/rooms?q=${'q'.repeat(257)}`,
        `/connections?q=${'q'.repeat(257)}`,
        '/rooms?q=a&q=b',
      ]) {
        const res = await api(base, 'GET', path, { bearer: VIEWER_SECRET });
        expect(res.status, path).toBe(400);
        expect(res.body.error.code).toBe('BAD_REQUEST');
      }
      const notJson = await postText(base, '/publish', '{"room":');
      expect(notJson.status).toBe(400);
      // A reason of exactly 123 bytes is a reason.
      const fits = await api(base, 'POST', '/disconnect', {
        bearer: ADMIN_SECRET,
        body: { connectionId: id, code: 1000, reason: `${'é'.repeat(61)}x` },
      });
      expect(fits.body).toEqual({ closed: true });
      expect((await target.closed).code).toBe(1000);
      await auditLine({
        action: 'disconnect',
        target: id,
        result: 'failed: BAD_REQUEST',
      });
    });

    // Express parses a JSON body before any controller: one that is not JSON is refused there,
    // with the HTTP server's own 400 body (docs/console.md says so), and nothing is done.
    it('refuses a body that is not JSON with 400', async () => {
      const res = await postText(base, '/publish', '{"room":');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400 });
    });

    it('/connections finds a client by principal, id, room and remote address, with its rooms and counters', async () => {
      const other = await client(0, '198.51.100.8');
      const found = await client(2, '198.51.100.9');
      await found.request('join', { room: 'search-room-a' }, 1);
      await found.request('join', { room: 'search-room-b' }, 2);
      await found.request('echo', 'x', 3);
      await other.request('join', { room: 'elsewhere' }, 1);
      const byAddress = await connectionAt('198.51.100.9');
      const id = byAddress.id;
      for (const q of ['token-3', id, 'search-room-b', '198.51.100.9']) {
        const res = await api(base, 'GET', `/connections?q=${q}`, {
          session: viewer,
        });
        expect(res.status).toBe(200);
        expect(res.body, `q=${q}`).toEqual({
          connections: [
            {
              id,
              instance: id.slice(0, id.lastIndexOf('-')),
              principal: 'token-3',
              remoteAddress: '198.51.100.9',
              openedAt: expect.any(Number),
              rooms: ['search-room-a', 'search-room-b'],
              messagesIn: 3,
              messagesOut: 3,
              bufferedBytes: 0,
            },
          ],
          total: 1,
          partial: false,
        });
      }
      const all = await api(base, 'GET', '/connections', { session: admin });
      expect(all.body.total).toBe(2);
      const limited = await api(base, 'GET', '/connections?limit=1', {
        session: admin,
      });
      expect(limited.body.connections).toHaveLength(1);
      expect(limited.body.total).toBe(2);
      const none = await api(base, 'GET', '/connections?q=no-such-thing', {
        session: admin,
      });
      expect(none.body).toEqual({ connections: [], total: 0, partial: false });
    });

    it('/rooms lists a room with its members, presence, messages per second after traffic, and history offset', async () => {
      const [one, two, publisher] = await Promise.all([
        client(0),
        client(1),
        client(2),
      ]);
      await one.request('join', { room: 'stats-room' }, 1);
      await two.request('join', { room: 'stats-room' }, 1);
      await one.request('join', { room: 'other-stats' }, 2);
      // The rate is over the time since the previous question.
      await api(base, 'GET', '/rooms', { bearer: VIEWER_SECRET });
      let last: Frame | undefined;
      for (let i = 0; i < 5; i++) {
        last = await publisher.request(
          'publish',
          { room: 'stats-room', data: i },
          i,
        );
        await one.nextJson();
        await two.nextJson();
      }
      const res = await api(base, 'GET', '/rooms?q=stats-room', {
        session: viewer,
      });
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(1);
      expect(res.body.partial).toBe(false);
      expect(res.body.rooms).toEqual([
        {
          name: 'stats-room',
          members: 2,
          instances: 1,
          presence: 2,
          messagesPerSec: expect.any(Number),
          history: {
            offset: (last!.data as { offset: number }).offset,
            size: expect.any(Number),
            ttlMs: expect.any(Number),
          },
        },
      ]);
      expect(res.body.rooms[0].messagesPerSec).toBeGreaterThan(0);
      expect((last!.data as { offset: number }).offset).toBeGreaterThanOrEqual(
        4,
      );
      const both = await api(base, 'GET', '/rooms?q=stats', {
        session: viewer,
      });
      expect(both.body.rooms.map((r: { name: string }) => r.name)).toEqual([
        'stats-room',
        'other-stats',
      ]);
      const first = await api(base, 'GET', '/rooms?q=stats&limit=1', {
        session: viewer,
      });
      expect(first.body.rooms).toHaveLength(1);
      expect(first.body.total).toBe(2);
    });

    it('/errors shows an error frame a client caused (code, event, principal), never its token or payload', async () => {
      const c = await client(3, '198.51.100.10');
      const { id } = await connectionAt('198.51.100.10');
      const payload = { secret: 'payload-secret-do-not-show' };
      const reply = await c.request('no-such-event', payload, 1);
      expect(reply.event).toBe('error');
      const res = await api(base, 'GET', '/errors', { session: viewer });
      expect(res.status).toBe(200);
      expect(res.body.partial).toBe(false);
      expect(res.body.errors[0]).toEqual({
        at: expect.any(Number),
        instance: id.slice(0, id.lastIndexOf('-')),
        code: 'UNKNOWN_EVENT',
        event: 'no-such-event',
        principal: 'token-4',
        connectionId: id,
      });
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(CLIENT_TOKENS[3]);
      expect(text).not.toContain('payload-secret-do-not-show');
      const limited = await api(base, 'GET', '/errors?limit=1', {
        session: viewer,
      });
      expect(limited.body.errors).toHaveLength(1);
    });

    it('/instances has this instance with its connections counted, and its series on ?series=1', async () => {
      await Promise.all([client(0), client(1), client(2)]);
      let res: Answer | undefined;
      await eventually(async () => {
        res = await api(base, 'GET', '/instances', { session: viewer });
        return res.body.instances[0]?.connections === 3;
      }, 'the instance to count 3 connections');
      const body = res!.body;
      expect(body.intervalMs).toBe(STATS_MS);
      expect(body.series).toBeUndefined();
      expect(body.instances).toHaveLength(1);
      expect(body.instances[0]).toMatchObject({
        id: body.self,
        version: JSON.parse(
          readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8'),
        ).version,
        connections: 3,
        bus: 'memory',
        draining: false,
        gone: false,
        bufferedBytes: 0,
        maxBufferedRatio: 0,
      });
      for (const key of [
        'startedAt',
        'uptimeSec',
        'rooms',
        'messagesInPerSec',
        'messagesOutPerSec',
        'errorsPerSec',
        'bytesInPerSec',
        'bytesOutPerSec',
        'lastSeen',
      ])
        expect(typeof body.instances[0][key], key).toBe('number');
      const withSeries = await api(base, 'GET', '/instances?series=1', {
        bearer: VIEWER_SECRET,
      });
      const series = withSeries.body.series[body.self] as number[][];
      expect(series.length).toBeGreaterThan(1);
      for (const point of series) expect(point).toHaveLength(5);
      expect(series.some((point) => point[1] === 3)).toBe(true);
    });
  });

  describe('WebSocket /console/ws', () => {
    it('refuses a handshake without credentials (401), with a client token (401), or from a foreign Origin (403), with no socket', async () => {
      const cases: Array<[number, Record<string, string>]> = [
        [401, {}],
        [401, { Authorization: `Bearer ${CLIENT_TOKENS[0]}` }],
        [401, { Cookie: 'gw_console=forged.value' }],
        [403, { Cookie: admin.cookie, Origin: 'https://evil.example' }],
        [
          403,
          {
            Authorization: `Bearer ${ADMIN_SECRET}`,
            Origin: 'https://evil.example',
          },
        ],
      ];
      for (const [status, headers] of cases) {
        const refused = await handshakeStatus(consoleUrl, {
          headers: { ...headers, 'X-Forwarded-For': freshAddress() },
        });
        expect(refused, JSON.stringify(headers)).toBeInstanceOf(
          HandshakeRefused,
        );
        expect((refused as HandshakeRefused).status).toBe(status);
      }
    });

    it('with a cookie or a bearer secret: hello first, then instances frames every interval', async () => {
      for (const [headers, user, role] of [
        [{ Cookie: admin.cookie, Origin: base }, 'alice', 'admin'],
        [{ Authorization: `Bearer ${VIEWER_SECRET}` }, 'bob', 'viewer'],
      ] as const) {
        const socket = await consoleSocket(headers);
        const hello = await socket.nextJson();
        expect(hello.event).toBe('hello');
        const data = hello.data as any;
        expect(data).toMatchObject({ user, role, intervalMs: STATS_MS });
        expect(typeof data.self).toBe('string');
        expect(Array.isArray(data.series[data.self])).toBe(true);
        for (let i = 0; i < 2; i++) {
          const frame = await socket.nextJson(STATS_MS * 10);
          expect(frame.event).toBe('instances');
          expect(frame.data).toEqual({
            at: expect.any(Number),
            instances: [expect.objectContaining({ id: data.self })],
          });
        }
      }
    });

    it('tails a room: the admin gets each message with its data exactly, the viewer without data; untail stops it', async () => {
      const adminSocket = await consoleSocket({ Cookie: admin.cookie });
      const viewerSocket = await consoleSocket({ Cookie: viewer.cookie });
      for (const s of [adminSocket, viewerSocket]) {
        await nextOf(s, 'hello');
        s.sendJson({ event: 'tail', data: { room: 'tailed' }, id: 1 });
        expect(await nextOf(s, 'tail')).toEqual({
          event: 'tail',
          data: { room: 'tailed' },
          id: 1,
        });
      }
      const member = await client(0);
      const publisher = await client(1, '198.51.100.11');
      const { id: publisherId } = await connectionAt('198.51.100.11');
      await member.request('join', { room: 'tailed' }, 1);
      const data = { text: 'exactly this', list: [1, 'two', { three: 3 }] };
      const ack = await publisher.request(
        'publish',
        { room: 'tailed', data },
        2,
      );
      const adminEntry = await nextOf(adminSocket, 'tail');
      expect(adminEntry.data).toMatchObject({
        room: 'tailed',
        at: expect.any(Number),
        from: publisherId,
        offset: (ack.data as { offset: number }).offset,
        bytes: expect.any(Number),
        data,
      });
      const viewerEntry = await nextOf(viewerSocket, 'tail');
      expect(viewerEntry.data).toMatchObject({
        room: 'tailed',
        from: publisherId,
        offset: (ack.data as { offset: number }).offset,
      });
      expect(viewerEntry.data).not.toHaveProperty('data');
      expect(JSON.stringify(viewerEntry)).not.toContain('exactly this');

      // A message the console itself publishes is tailed too.
      await api(base, 'POST', '/publish', {
        bearer: ADMIN_SECRET,
        body: { room: 'tailed', data: 'from the console' },
      });
      expect((await nextOf(adminSocket, 'tail')).data).toMatchObject({
        from: 'console:alice',
        data: 'from the console',
      });
      expect(
        (await nextOf(viewerSocket, 'tail')).data as object,
      ).not.toHaveProperty('data');

      for (const s of [adminSocket, viewerSocket]) {
        s.sendJson({ event: 'untail', id: 2 });
        expect(await nextOf(s, 'untail')).toEqual({
          event: 'untail',
          data: null,
          id: 2,
        });
      }
      await publisher.request('publish', { room: 'tailed', data: 'unseen' }, 3);
      await member.nextJson();
      await expectOnlyInstances(adminSocket);
      await expectOnlyInstances(viewerSocket);
    });

    it('a tail does not make a room: a tailed room without members is not listed', async () => {
      const socket = await consoleSocket({
        Authorization: `Bearer ${ADMIN_SECRET}`,
      });
      await nextOf(socket, 'hello');
      socket.sendJson({ event: 'tail', data: { room: 'only-watched' }, id: 1 });
      await nextOf(socket, 'tail');
      const member = await client(0);
      await member.request('join', { room: 'watched-and-joined' }, 1);
      const res = await api(base, 'GET', '/rooms?q=watched', {
        bearer: VIEWER_SECRET,
      });
      expect(res.body).toEqual({
        rooms: [
          expect.objectContaining({
            name: 'watched-and-joined',
            members: 1,
            instances: 1,
          }),
        ],
        total: 1,
        partial: false,
      });
    });

    it('answers bad frames with error frames and stays open', async () => {
      const socket = await consoleSocket({
        Authorization: `Bearer ${ADMIN_SECRET}`,
      });
      await nextOf(socket, 'hello');
      const bad: Array<[string | Buffer, string]> = [
        ['not json', 'BAD_REQUEST'],
        ['{"event":"nope","id":3}', 'UNKNOWN_EVENT'],
        ['{"event":"tail","data":{"room":""},"id":4}', 'BAD_REQUEST'],
        ['{"event":"tail","data":{},"id":5}', 'BAD_REQUEST'],
        ['{"event":"tail","data":null,"id":6}', 'BAD_REQUEST'],
        ['{"event":"tail","data":{"room":"has space"},"id":7}', 'BAD_REQUEST'],
        ['[1,2,3]', 'BAD_REQUEST'],
        [Buffer.from([1, 2, 3]), 'BAD_REQUEST'],
      ];
      for (const [frame, code] of bad) {
        socket.send(frame);
        const error = await nextOf(socket, 'error');
        expect((error.data as { code: string }).code, String(frame)).toBe(code);
      }
      socket.sendJson({ event: 'tail', data: { room: 'after-errors' }, id: 8 });
      expect(await nextOf(socket, 'tail')).toEqual({
        event: 'tail',
        data: { room: 'after-errors' },
        id: 8,
      });
    });

    it('console sockets get no client broadcasts, and count neither in gateway_connections_open nor in /connections', async () => {
      const socket = await consoleSocket({
        Authorization: `Bearer ${ADMIN_SECRET}`,
      });
      await nextOf(socket, 'hello');
      const [one, two] = await Promise.all([client(0), client(1)]);
      const metrics = await scrapeMetrics(base);
      expect(sample(metrics, 'gateway_connections_open')).toBe(2);
      const listed = await api(base, 'GET', '/connections', {
        bearer: VIEWER_SECRET,
      });
      expect(listed.body.total).toBe(2);
      await one.request('broadcast', 'to every client', 1);
      expect((await two.nextJson()).event).toBe('broadcast');
      await api(base, 'POST', '/broadcast', {
        bearer: ADMIN_SECRET,
        body: { data: 'from the console' },
      });
      await one.nextJson();
      await two.nextJson();
      await expectOnlyInstances(socket);
      const instances = await api(base, 'GET', '/instances', {
        bearer: VIEWER_SECRET,
      });
      expect(instances.body.instances[0].connections).toBeLessThanOrEqual(2);
    });
  });

  describe('the log', () => {
    it('holds no console secret, CSRF token or message payload', async () => {
      // After every test above: logins, bearer credentials, actions, refusals, tails.
      await auditLine({ user: 'alice', action: 'broadcast', result: 'ok' });
      const output = gw.output();
      expect(output).toContain('"context":"ConsoleAudit"');
      for (const secret of [
        ADMIN_SECRET,
        VIEWER_SECRET,
        admin.csrf,
        viewer.csrf,
        'hello from the console',
        'maintenance at noon',
        'exactly this',
        'payload-secret-do-not-show',
      ])
        expect(output).not.toContain(secret);
    });

    // The access log logs a response's status, not its headers: the login's Set-Cookie is a
    // session good for CONSOLE_SESSION_TTL_MS.
    it('holds no session cookie', async () => {
      await gw.waitForLine((l) => l.msg === 'request completed');
      expect(gw.output()).not.toContain(
        admin.cookie.slice('gw_console='.length),
      );
    });
  });

  describe('the page', () => {
    it('GET /console serves index.html with a Content-Security-Policy, and its assets load', async () => {
      const res = await fetch(`${base}/console`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const html = await res.text();
      expect(html).toBe(readFileSync(PAGE, 'utf8'));
      const assets = [
        ...html.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g),
      ].map((m) => m[1]);
      expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
      for (const asset of assets) {
        const loaded = await fetch(`${base}${asset}`);
        expect(loaded.status, asset).toBe(200);
        expect(loaded.headers.get('content-type')).toMatch(
          asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/,
        );
        expect((await loaded.arrayBuffer()).byteLength).toBeGreaterThan(0);
        const etag = loaded.headers.get('etag')!;
        const cached = await fetch(`${base}${asset}`, {
          headers: { 'If-None-Match': etag },
        });
        expect(cached.status).toBe(304);
      }
      const missing = await fetch(`${base}/console/assets/nope.js`);
      expect(missing.status).toBe(404);
      const outside = await fetch(
        `${base}/console/assets/..%2F..%2Fpackage.json`,
      );
      expect(outside.status).toBe(404);
    });
  });
});

describe('the web console, off and in process (e2e)', () => {
  let off: RunningApp;
  let on: RunningApp;

  beforeAll(async () => {
    [off, on] = await Promise.all([
      startApp(),
      startApp({
        gateway: {
          console: {
            tokens: CONSOLE_TOKENS,
            jwtRoleClaim: undefined,
            // Short, so that a session's end is seen.
            sessionTtlMs: 1_500,
            statsIntervalMs: STATS_MS,
          },
        },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([off?.close(), on?.close()]);
  });

  it('answers 404 on every /console path and refuses the /console/ws upgrade when no CONSOLE_TOKENS is set', async () => {
    const unknown = await fetch(`${off.httpUrl}/no-such-path`);
    const unknownBody = await unknown.text();
    for (const path of [
      '/console',
      '/console/',
      '/console/assets/index.js',
      ...READS.map((p) => `/console/api${p}`),
    ]) {
      const res = await fetch(`${off.httpUrl}${path}`, {
        headers: { Authorization: `Bearer ${ADMIN_SECRET}` },
      });
      expect(res.status, path).toBe(404);
      // As any unknown path: nothing says that a console exists.
      expect(res.headers.get('content-type')).toBe(
        unknown.headers.get('content-type'),
      );
      expect((await res.text()).replace(path, '/no-such-path')).toBe(
        unknownBody,
      );
    }
    for (const path of ['/login', '/logout', ...ACTIONS.map((a) => `/${a}`)]) {
      const res = await api(off.httpUrl, 'POST', path, {
        bearer: ADMIN_SECRET,
        body: { token: ADMIN_SECRET },
      });
      expect(res.status, path).toBe(404);
    }
    const refused = await handshakeStatus(
      `ws://127.0.0.1:${off.port}/console/ws`,
      { headers: { Authorization: `Bearer ${ADMIN_SECRET}` } },
    );
    expect(refused).toBeInstanceOf(HandshakeRefused);
    expect((refused as HandshakeRefused).status).toBe(404);
  });

  it('does not set Secure on X-Forwarded-Proto from a peer that is not a trusted proxy', async () => {
    const session = await login(on.httpUrl, ADMIN_SECRET, {
      'X-Forwarded-Proto': 'https',
    });
    expect(cookieAttributes(session.setCookie).has('secure')).toBe(false);
  });

  it('ends a session at its TTL: its socket is closed with 4401, its cookie refused', async () => {
    const session = await login(on.httpUrl, VIEWER_SECRET);
    expect(session.expiresAt - Date.now()).toBeLessThanOrEqual(1_500);
    const socket = await connect(`ws://127.0.0.1:${on.port}/console/ws`, {
      headers: { Cookie: session.cookie },
    });
    expect((await socket.nextJson()).event).toBe('hello');
    expect(await socket.closed).toEqual({
      code: 4401,
      reason: 'console session expired',
    });
    expect(Date.now()).toBeGreaterThanOrEqual(session.expiresAt);
    const res = await api(on.httpUrl, 'GET', '/session', { session });
    expect(res.status).toBe(401);
  });

  // Last: it throttles 127.0.0.1 on this app.
  it('counts failed logins by the peer, not by an X-Forwarded-For of an untrusted peer', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await api(on.httpUrl, 'POST', '/login', {
        body: { token: 'wrong-wrong-wrong-wrong' },
        headers: { 'X-Forwarded-For': `192.0.2.${i}` },
      });
      expect(res.status).toBe(401);
    }
    const res = await api(on.httpUrl, 'POST', '/login', {
      body: { token: ADMIN_SECRET },
      headers: { 'X-Forwarded-For': '192.0.2.99' },
    });
    expect(res.status).toBe(429);
  });
});
