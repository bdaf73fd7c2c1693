import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './support/chromium.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';

// The built client as a browser gets it: dist/client/*.js and the wire protocol it shares with
// the server, dist/protocol/*.js, imported as ES modules by a page, no bundler, the browser's
// own WebSocket, the token in ?token=. Chromium is Debian's
// (test/prepare.sh installs it); playwright-core only drives it.

const DIST = resolve(import.meta.dirname, '../dist');

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>client check</title>
<script type="module">
  import { GatewayClient, RequestError } from '/client/index.js';
  const params = new URLSearchParams(location.search);
  window.result = (async () => {
    const client = new GatewayClient({ url: params.get('ws'), token: params.get('token') });
    const states = [];
    client.on('state', ({ state }) => states.push(state));
    await client.connect();
    const echo = await client.request('echo', { from: 'chromium' });
    const room = await client.join('browsers');
    const joinedAt = client.position('browsers');
    const published = await client.publish('browsers', 'from the page');
    const publishedAt = client.position('browsers');
    let error;
    try {
      await client.request('no.such.event');
    } catch (err) {
      error = { isRequestError: err instanceof RequestError, code: err.code };
    }
    await client.close();
    // A browser never sees the 401 of a refused handshake: it looks like a dropped connection.
    const refused = new GatewayClient({
      url: params.get('ws'),
      token: 'wrong',
      reconnect: { initialDelayMs: 10, maxRetries: 1 },
    });
    let refusal;
    try {
      await refused.connect();
    } catch (err) {
      refusal = { name: err.name, closeCode: err.closeCode };
    }
    return {
      echo,
      room,
      joinedAt,
      published,
      publishedAt,
      error,
      states,
      refusal,
      native: typeof WebSocket,
    };
  })().catch((err) => ({ failed: String(err) }));
</script>`;

/** A static server for the page, dist/client and dist/protocol; it records every path asked for. */
async function servePage(): Promise<{
  server: Server;
  url: string;
  asked: string[];
}> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    asked.push(path);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    const file = /^\/(client|protocol)\/[a-z-]+\.js$/.test(path);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    readFile(resolve(DIST, path.slice(1))).then(
      (body) =>
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/`, asked };
}

describe('GatewayClient in a browser (e2e, Chromium)', () => {
  let gateway: RunningApp;
  let browser: Browser;
  let site: Awaited<ReturnType<typeof servePage>>;

  beforeAll(async () => {
    // Chromium first: a missing one throws before the gateway and the page server start.
    [browser, gateway, site] = await Promise.all([
      launchChromium(),
      startApp(),
      servePage(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    // When setup failed there is nothing to close, and nothing would call `done`.
    if (site) await new Promise((done) => site.server.close(done));
    await gateway?.close();
  });

  it('loads dist/client/index.js as an ES module and does requests through the real gateway, token in ?token=', async () => {
    const page = await browser.newPage();
    const query = new URLSearchParams({ ws: gateway.wsUrl, token: TEST_TOKEN });
    await page.goto(`${site.url}?${query}`);
    const result = await page.evaluate(
      () => (window as unknown as { result: Promise<unknown> }).result,
    );
    // Rooms keep history: the join tells the room's position (empty: offset 0), the client
    // tracks it, and its own publish (the room's first message) moves it past that message.
    expect(result).toMatchObject({
      room: { epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string },
    });
    const { epoch } = (result as { room: { epoch: string } }).room;
    expect(result).toEqual({
      echo: { from: 'chromium' },
      room: { room: 'browsers', offset: 0, epoch },
      joinedAt: { offset: 0, epoch },
      published: {
        room: 'browsers',
        recipients: 0,
        instances: 1,
        offset: 1,
        epoch,
      },
      publishedAt: { offset: 1, epoch },
      error: { isRequestError: true, code: 'UNKNOWN_EVENT' },
      states: ['connecting', 'open', 'closed'],
      refusal: { name: 'ConnectionClosedError', closeCode: 1006 },
      native: 'function',
    });
    // The page fetched the client's own files and the shared protocol, nothing else: no `ws`, no
    // Nest, no Node built-in.
    expect(site.asked[0]).toBe('/');
    for (const path of site.asked.slice(1)) {
      if (path === '/favicon.ico') continue;
      expect(path).toMatch(/^\/(client|protocol)\/[a-z-]+\.js$/);
    }
    expect(site.asked).toContain('/client/gateway-client.js');
    expect(site.asked).toContain('/protocol/envelope.js');
  });
});
