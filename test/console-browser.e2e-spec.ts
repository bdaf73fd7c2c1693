import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type {
  Browser,
  BrowserContext,
  BrowserContextOptions,
  Locator,
  Page,
} from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import {
  SHARED_REDIS_URL,
  uniqueChannelPrefix,
} from './support/redis-server.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { connect, type Frame, type TestClient } from './support/ws-client.js';

// The web console's page (dist-console, served by the built gateway at /console) driven in
// Debian's Chromium through playwright-core: real clicks and typing, the page's own API calls and
// console WebSocket, real clients on the gateway's WebSocket beside it.
//
// The screenshots of docs/console.md are made here: into docs/images with UPDATE_SCREENSHOTS=1,
// into a temporary directory otherwise (they are taken either way).

const ADMIN_SECRET = 'correct-horse-battery-staple';
const VIEWER_SECRET = 'a-long-viewer-secret';
const CONSOLE_TOKENS = `alice:admin:${ADMIN_SECRET},bob:viewer:${VIEWER_SECRET}`;
/** Client tokens; a static token's principal is `token-<its place in the list>`. */
const CLIENT_TOKENS = Array.from(
  { length: 6 },
  (_, i) => `console-e2e-client-${i + 1}-token`,
);
const principalOf = (token: string) =>
  `token-${CLIENT_TOKENS.indexOf(token) + 1}`;
const GATEWAY_ENV = {
  AUTH_TOKENS: CLIENT_TOKENS.join(','),
  CONSOLE_TOKENS,
  // Charts move four times a second; an instance is gone after three silent intervals.
  CONSOLE_STATS_INTERVAL_MS: '250',
};
const VIEWPORT = { width: 1280, height: 860 };
/** How long the page may take to show what a poll (2 s) or a stats frame brings. */
const SHOWS_WITHIN = { timeout: 8_000, interval: 100 };
const DOCS_IMAGES = resolve(import.meta.dirname, '../docs/images');
const MAX_PNG_BYTES = 250 * 1024;

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions of the page's scripts, and what its CSP refused. */
  errors: string[];
}

/** A fresh context (no cookie) with the console's login page loaded. */
async function openConsole(
  port: number,
  options: BrowserContextOptions = {},
): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: VIEWPORT, ...options });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  // A style or script the page's Content-Security-Policy refuses breaks it quietly: that counts.
  page.on('console', (message) => {
    if (
      message.type() === 'error' &&
      message.text().includes('Content Security Policy')
    )
      errors.push(message.text());
  });
  await page.goto(`http://127.0.0.1:${port}/console`);
  await page.locator('#token').waitFor();
  return { context, page, errors };
}

const submitButton = (page: Page) =>
  page.getByTestId('login').locator('button[type="submit"]');

/** Types a secret into the login form and submits it; the status of the login's answer. */
async function submitSecret(page: Page, secret: string): Promise<number> {
  await page.locator('#token').fill(secret);
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) =>
        r.url().endsWith('/console/api/login') &&
        r.request().method() === 'POST',
    ),
    submitButton(page).click(),
  ]);
  return response.status();
}

async function logIn(
  port: number,
  secret: string,
  options: BrowserContextOptions = {},
): Promise<ConsolePage> {
  const opened = await openConsole(port, options);
  expect(await submitSecret(opened.page, secret)).toBe(200);
  await opened.page.getByTestId('role').waitFor();
  return opened;
}

const attribute = (locator: Locator, name: string) => () =>
  locator.getAttribute(name);
const numberAttribute = (locator: Locator, name: string) => async () =>
  Number(await locator.getAttribute(name));

/** The principals of the connection rows shown. */
const shownPrincipals = (page: Page) => () =>
  page
    .getByTestId('connection-row')
    .locator('td:nth-child(2)')
    .allTextContents();

const rowOf = (page: Page, principal: string) =>
  page.getByTestId('connection-row').filter({
    has: page.locator('td:nth-child(2)', { hasText: principal }),
  });

/** The next frame matching, skipping the others; fails after the deadline. */
async function frameWhere(
  client: TestClient,
  what: string,
  match: (frame: Frame) => boolean,
  timeoutMs = 5_000,
): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`);
    const frame = await client.nextJson(left).catch(() => undefined);
    if (!frame) throw new Error(`no ${what} within ${timeoutMs} ms`);
    if (match(frame)) return frame;
  }
}

/** The "msgs /s" of a room in the rooms table. */
function roomRate(page: Page, room: string): Promise<number> {
  return page.getByTestId('rooms').evaluate((table, name) => {
    const headers = [...table.querySelectorAll('thead th')].map((th) =>
      th.textContent?.trim(),
    );
    const row = [...table.querySelectorAll('[data-testid="room-row"]')].find(
      (r) => r.getAttribute('data-room') === name,
    );
    return Number(row?.children[headers.indexOf('msgs /s')]?.textContent);
  }, room);
}

async function joinRoom(client: TestClient, room: string): Promise<void> {
  client.sendJson({ event: 'join', data: { room }, id: `join-${room}` });
  await frameWhere(
    client,
    `the join of ${room}`,
    (f) => f.id === `join-${room}`,
  );
}

/** Sends `perTick` echo requests every `everyMs` (replies are left queued) until stopped. */
function echoLoad(client: TestClient, perTick: number, everyMs: number) {
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++)
      client.sendJson({ event: 'echo', data: { load: i } });
  }, everyMs);
  return () => clearInterval(timer);
}

async function closeAll(clients: TestClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

describe('web console in a browser (e2e, Chromium): the login throttle', () => {
  // A gateway of its own: once throttled, this address can log in nowhere on it for a minute.
  let gateway: SpawnedGateway;

  beforeAll(async () => {
    gateway = await spawnGateway(GATEWAY_ENV);
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('refuses a wrong secret, throttles the address after 5 failures, then refuses even the right secret', async () => {
    const { context, page, errors } = await openConsole(gateway.port);
    try {
      const loginError = page.getByTestId('login-error');
      await expect.poll(() => loginError.isHidden()).toBe(true);

      for (let attempt = 1; attempt <= 5; attempt++) {
        expect(await submitSecret(page, `not-the-secret-${attempt}`)).toBe(401);
        await expect
          .poll(() => loginError.textContent())
          .toBe('wrong console secret');
        expect(await loginError.isVisible()).toBe(true);
      }

      // The sixth try, wrong again: the page says to wait.
      expect(await submitSecret(page, 'not-the-secret-6')).toBe(429);
      await expect
        .poll(() => loginError.textContent())
        .toMatch(/^Too many attempts, try again in \d+ s$/);

      // The right secret, from the throttled address: refused all the same.
      expect(await submitSecret(page, ADMIN_SECRET)).toBe(429);
      await expect
        .poll(() => loginError.textContent())
        .toMatch(/^Too many attempts, try again in \d+ s$/);
      expect(await page.getByTestId('role').count()).toBe(0);
      expect(await page.locator('#token').isVisible()).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

describe('web console in a browser (e2e, Chromium): one instance', () => {
  let gateway: SpawnedGateway;
  let wsUrl: string;
  let instanceId: string;

  beforeAll(async () => {
    gateway = await spawnGateway(GATEWAY_ENV);
    wsUrl = `ws://127.0.0.1:${gateway.port}/`;
    const res = await fetch(
      `http://127.0.0.1:${gateway.port}/console/api/instances`,
      { headers: { Authorization: `Bearer ${VIEWER_SECRET}` } },
    );
    instanceId = ((await res.json()) as { self: string }).self;
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const client = (token: string) => connect(wsUrl, { token });

  it('a viewer sees the instance and live connections, can search them, and cannot act', async () => {
    const { context, page, errors } = await logIn(gateway.port, VIEWER_SECRET);
    const clients: TestClient[] = [];
    try {
      await expect
        .poll(() => page.getByTestId('role').textContent())
        .toBe('viewer');
      expect(await page.getByTestId('user').textContent()).toBe('bob');

      const instance = page.getByTestId('instance-row');
      await expect.poll(() => instance.count(), SHOWS_WITHIN).toBe(1);
      expect(await instance.getAttribute('data-instance')).toBe(instanceId);
      expect(await instance.getAttribute('data-gone')).toBe('false');

      // Two clients connect elsewhere: both show up within a poll or two.
      const watchedToken = CLIENT_TOKENS[3];
      const watchedPrincipal = principalOf(watchedToken);
      const otherPrincipal = principalOf(CLIENT_TOKENS[4]);
      clients.push(await client(watchedToken), await client(CLIENT_TOKENS[4]));
      await expect
        .poll(async () => (await shownPrincipals(page)()).sort(), SHOWS_WITHIN)
        .toEqual([watchedPrincipal, otherPrincipal].sort());

      // The search box narrows the list to one principal.
      await page.getByTestId('connection-search').click();
      await page
        .getByTestId('connection-search')
        .pressSequentially(watchedPrincipal);
      await expect
        .poll(shownPrincipals(page), SHOWS_WITHIN)
        .toEqual([watchedPrincipal]);
      const connectionId = await rowOf(page, watchedPrincipal).getAttribute(
        'data-connection',
      );
      expect(connectionId).toBeTruthy();

      // Nothing to act with.
      expect(await page.getByTestId('admin-actions').count()).toBe(0);
      expect(await page.getByTestId('publish-submit').count()).toBe(0);
      expect(await page.getByTestId('broadcast-submit').count()).toBe(0);
      expect(await page.getByTestId('disconnect').count()).toBe(0);
      expect(await page.getByTestId('send').count()).toBe(0);

      // And the API refuses a viewer's action, however it is sent: the page's own session, its
      // CSRF token, from the page's origin.
      const answer = await page.evaluate(async (id) => {
        const session = (await (
          await fetch('/console/api/session')
        ).json()) as {
          csrf: string;
        };
        const res = await fetch('/console/api/disconnect', {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'X-CSRF-Token': session.csrf,
          },
          body: JSON.stringify({ connectionId: id, code: 4000 }),
        });
        return { status: res.status, body: (await res.json()) as unknown };
      }, connectionId);
      expect(answer).toEqual({
        status: 403,
        body: {
          error: {
            code: 'FORBIDDEN',
            message: 'disconnect needs the admin role',
          },
        },
      });
      // The client was not touched.
      const echo = await clients[0].request('echo', { still: 'here' }, 1);
      expect(echo).toEqual({ event: 'echo', data: { still: 'here' }, id: 1 });
      expect(errors).toEqual([]);
    } finally {
      await closeAll(clients);
      await context.close();
    }
  });

  it('an admin tails a room, watches the charts move, disconnects a client with a code and a reason, and publishes', async () => {
    const { context, page, errors } = await logIn(gateway.port, ADMIN_SECRET);
    const [member, publisher, victim] = await Promise.all(
      CLIENT_TOKENS.slice(0, 3).map(client),
    );
    const clients = [member, publisher, victim];
    let stopLoad = () => {};
    try {
      await expect
        .poll(() => page.getByTestId('role').textContent())
        .toBe('admin');
      await joinRoom(member, 'lobby');

      // The tail of "lobby" shows a message a client publishes there, payload and all.
      await page.getByTestId('tail-room').fill('lobby');
      await page.getByTestId('tail-start').click();
      await expect
        .poll(() => page.getByTestId('tail-status').textContent())
        .toBe('Following lobby');
      publisher.sendJson({
        event: 'publish',
        data: { room: 'lobby', data: { text: 'hello from the test' } },
        id: 'p1',
      });
      await frameWhere(publisher, 'the publish reply', (f) => f.id === 'p1');
      const delivered = await frameWhere(
        member,
        'the message',
        (f) => f.event === 'message',
      );
      expect(delivered.data).toMatchObject({
        room: 'lobby',
        data: { text: 'hello from the test' },
      });
      const entry = page.getByTestId('tail-entry');
      await expect
        .poll(() => entry.first().getByTestId('tail-data').textContent())
        .toBe('{"text":"hello from the test"}');
      expect(await entry.count()).toBe(1);

      // The charts move: new points keep coming, and a burst of echoes shows as messages.
      const connections = page.getByTestId('chart-connections');
      const messages = page.getByTestId('chart-messages');
      await expect
        .poll(numberAttribute(connections, 'data-last'), SHOWS_WITHIN)
        .toBe(3);
      const pointsBefore = await numberAttribute(messages, 'data-points')();
      stopLoad = echoLoad(publisher, 8, 100);
      await expect
        .poll(numberAttribute(messages, 'data-last'), SHOWS_WITHIN)
        .toBeGreaterThan(0);
      await expect
        .poll(numberAttribute(messages, 'data-points'), SHOWS_WITHIN)
        .toBeGreaterThan(pointsBefore);
      stopLoad();

      // The admin disconnects the victim from its row, with a code and a reason of its own.
      const victimPrincipal = principalOf(CLIENT_TOKENS[2]);
      await page.getByTestId('connection-search').fill(victimPrincipal);
      await expect
        .poll(shownPrincipals(page), SHOWS_WITHIN)
        .toEqual([victimPrincipal]);
      const row = rowOf(page, victimPrincipal);
      const victimId = await row.getAttribute('data-connection');
      await row.getByTestId('disconnect').click();
      const dialog = page.getByTestId('disconnect-dialog');
      await dialog.waitFor();
      await dialog.getByTestId('close-code').fill('4321');
      await dialog.getByTestId('close-reason').fill('bye from test');
      await dialog.getByTestId('confirm-disconnect').click();
      expect(await victim.closed).toEqual({
        code: 4321,
        reason: 'bye from test',
      });
      await expect
        .poll(() => page.getByTestId('action-result').textContent())
        .toBe(`Disconnected ${victimId} (4321)`);
      await dialog.waitFor({ state: 'detached' });
      await expect
        .poll(() => page.getByTestId('connection-row').count(), SHOWS_WITHIN)
        .toBe(0);

      // A publish from the admin panel reaches the room's member.
      await page.getByTestId('publish-room').fill('lobby');
      await page
        .getByTestId('publish-data')
        .fill('{"note": "from the console"}');
      await page.getByTestId('publish-submit').click();
      const pushed = await frameWhere(
        member,
        "the console's message",
        (f) =>
          f.event === 'message' &&
          (f.data as { data?: { note?: string } }).data?.note ===
            'from the console',
      );
      expect(pushed.data).toMatchObject({
        room: 'lobby',
        data: { note: 'from the console' },
      });
      await expect
        .poll(() => page.getByTestId('action-result').textContent())
        .toMatch(/^Published to lobby: 1 recipient on 1 instance/);
      expect(errors).toEqual([]);
    } finally {
      stopLoad();
      await closeAll(clients);
      await context.close();
    }
  });

  it(
    'makes the screenshots of docs/console.md (light and dark)',
    { timeout: 30_000 },
    async () => {
      const update = process.env.UPDATE_SCREENSHOTS === '1';
      const dir = update
        ? DOCS_IMAGES
        : await mkdtemp(join(tmpdir(), 'console-screenshots-'));
      await mkdir(dir, { recursive: true });
      const clients = await Promise.all(CLIENT_TOKENS.slice(0, 5).map(client));
      const [member, publisher, ops, reader] = clients;
      await Promise.all([
        joinRoom(member, 'lobby'),
        joinRoom(member, 'news'),
        joinRoom(publisher, 'lobby'),
        joinRoom(ops, 'ops/alerts'),
        joinRoom(reader, 'news'),
      ]);
      // Some traffic: messages in the lobby four times a second, and echoes.
      let n = 0;
      const publishing = setInterval(() => {
        n++;
        publisher.sendJson({
          event: 'publish',
          data: { room: 'lobby', data: { text: `message ${n}`, n } },
        });
      }, 250);
      const stopLoad = echoLoad(reader, 6, 100);
      const opened: ConsolePage[] = [];
      try {
        /** Logs in, tails the lobby and waits for every part of the page to have data. */
        const ready = async (options: BrowserContextOptions) => {
          const c = await logIn(gateway.port, ADMIN_SECRET, options);
          opened.push(c);
          const { page } = c;
          await page.getByTestId('tail-room').fill('lobby');
          await page.getByTestId('tail-start').click();
          // Asked for before or after the console's socket said hello, the tail is the first.
          await expect
            .poll(() => page.getByTestId('tail-status').textContent())
            .toBe('Following lobby');
          await expect
            .poll(() => page.getByTestId('tail-entry').count(), SHOWS_WITHIN)
            .toBeGreaterThanOrEqual(6);
          await expect
            .poll(
              () => page.getByTestId('connection-row').count(),
              SHOWS_WITHIN,
            )
            .toBe(5);
          await expect
            .poll(() => page.getByTestId('room-row').count(), SHOWS_WITHIN)
            .toBe(3);
          // A room's rate is counted between two polls (of anyone): about 4 once two have come.
          await expect
            .poll(() => roomRate(page, 'lobby'), SHOWS_WITHIN)
            .toBeGreaterThanOrEqual(2);
          await expect
            .poll(
              numberAttribute(page.getByTestId('chart-messages'), 'data-last'),
              SHOWS_WITHIN,
            )
            .toBeGreaterThan(0);
          await expect
            .poll(
              numberAttribute(
                page.getByTestId('chart-connections'),
                'data-last',
              ),
              SHOWS_WITHIN,
            )
            .toBe(5);
          // A click leaves the focus on the tail's button and the pointer over the page: the shots
          // show no focus ring and no hovered row.
          await page.evaluate(() => {
            (document.activeElement as HTMLElement | null)?.blur();
          });
          await page.mouse.move(0, 0);
          return page;
        };
        const shoot = async (page: Page, name: string) => {
          const path = join(dir, name);
          await page.screenshot({
            path,
            animations: 'disabled',
            caret: 'hide',
          });
          expect((await stat(path)).size).toBeLessThan(MAX_PNG_BYTES);
        };

        const light = await ready({ colorScheme: 'light' });
        await light.evaluate(() => window.scrollTo(0, 0));
        await shoot(light, 'console-overview.png');
        await light.locator('#rooms').evaluate((el) => el.scrollIntoView());
        await shoot(light, 'console-connections.png');
        // One page at a time polls the rooms, so that each poll's rate spans a whole interval.
        await opened[0].context.close();

        const dark = await ready({ colorScheme: 'dark' });
        await dark.evaluate(() => window.scrollTo(0, 0));
        await shoot(dark, 'console-dark.png');
        expect(opened.flatMap((c) => c.errors)).toEqual([]);
      } finally {
        clearInterval(publishing);
        stopLoad();
        await closeAll(clients);
        await Promise.all(opened.map((c) => c.context.close()));
        if (!update) await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('web console in a browser (e2e, Chromium): two instances over Redis', () => {
  let a: SpawnedGateway;
  let b: SpawnedGateway;
  let idOf: (gateway: SpawnedGateway) => Promise<string>;

  beforeAll(async () => {
    const env = {
      ...GATEWAY_ENV,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_CHANNEL_PREFIX: uniqueChannelPrefix(),
    };
    [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    idOf = async (gateway) => {
      const res = await fetch(
        `http://127.0.0.1:${gateway.port}/console/api/instances`,
        { headers: { Authorization: `Bearer ${VIEWER_SECRET}` } },
      );
      return ((await res.json()) as { self: string }).self;
    };
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("shows both instances on A's page, and B as gone once it is killed", async () => {
    const [idA, idB] = await Promise.all([idOf(a), idOf(b)]);
    expect(idA).not.toBe(idB);
    const { context, page, errors } = await logIn(a.port, VIEWER_SECRET);
    try {
      const rows = page.getByTestId('instance-row');
      const gone = async () =>
        Object.fromEntries(
          await Promise.all(
            (await rows.all()).map(async (row) => [
              await row.getAttribute('data-instance'),
              await row.getAttribute('data-gone'),
            ]),
          ),
        ) as Record<string, string>;
      await expect
        .poll(gone, SHOWS_WITHIN)
        .toEqual({ [idA]: 'false', [idB]: 'false' });
      expect(
        await page
          .locator(`[data-testid="instance-row"][data-instance="${idA}"]`)
          .getByTestId('serving')
          .count(),
      ).toBe(1);

      await b.stop('SIGKILL');
      await expect
        .poll(
          attribute(
            page.locator(
              `[data-testid="instance-row"][data-instance="${idB}"]`,
            ),
            'data-gone',
          ),
          SHOWS_WITHIN,
        )
        .toBe('true');
      expect(await gone()).toEqual({ [idA]: 'false', [idB]: 'true' });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
