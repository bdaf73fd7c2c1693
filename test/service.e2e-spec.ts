import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import {
  runGateway,
  spawnGateway,
  type LogLine,
  type SpawnedGateway,
} from './support/spawn-gateway.js';
import { openStubbornSocket } from './support/stubborn-socket.js';
import {
  connect,
  handshakeStatus,
  type HandshakeRefused,
  type TestClient,
} from './support/ws-client.js';

const byMsg = (msg: string) => (line: LogLine) => line.msg === msg;

describe('the service as shipped: node dist/main.js (e2e)', () => {
  describe('with no configuration at all', () => {
    let gateway: SpawnedGateway;

    beforeAll(async () => {
      gateway = await spawnGateway({});
    });
    afterAll(async () => {
      await gateway.stop();
    });

    it('generates a token, announces it once with a client command, and accepts it', async () => {
      const announcement = await gateway.waitForLine((l) =>
        String(l.msg).startsWith('no AUTH_TOKENS set'),
      );
      const token = /generated token (\S+)/.exec(String(announcement.msg))?.[1];
      expect(token).toMatch(/^[\w-]{32}$/);
      expect(String(announcement.msg)).toContain(
        `-H "Authorization: Bearer ${token}"`,
      );
      const url = `ws://127.0.0.1:${gateway.port}/`;
      expect(((await handshakeStatus(url)) as HandshakeRefused).status).toBe(
        401,
      );
      const client = await connect(url, { token });
      expect(await client.request('echo', 'hello', 1)).toEqual({
        event: 'echo',
        data: 'hello',
        id: 1,
      });
      await client.close();
      const mentions = gateway
        .output()
        .split('\n')
        .filter((l) => l.includes(token!));
      expect(mentions).toHaveLength(1);
    });

    it('serves GET /healthz on the same port', async () => {
      const res = await fetch(`http://127.0.0.1:${gateway.port}/healthz`);
      expect(res.status).toBe(200);
    });
  });

  describe('logging', () => {
    const token = 'log-test-token-abcdef';
    let gateway: SpawnedGateway;

    beforeAll(async () => {
      gateway = await spawnGateway({ AUTH_TOKENS: token, LOG_LEVEL: 'debug' });
    });
    afterAll(async () => {
      await gateway.stop();
    });

    it('writes one JSON line per connection open and close, and never the token', async () => {
      const url = `ws://127.0.0.1:${gateway.port}/`;
      const viaQuery = await connect(url, { token, via: 'query' });
      await viaQuery.request('echo', 1, 1);
      await viaQuery.request('echo', 2, 2);
      await viaQuery.close(1000);
      const viaHeader = await connect(url, { token });
      await viaHeader.close(1000);
      await handshakeStatus(url, { token: 'wrong-token-xyz', via: 'query' });
      await fetch(`http://127.0.0.1:${gateway.port}/nowhere?token=${token}`, {
        headers: { Authorization: `Bearer ${token}` },
      });

      const closed = await gateway.waitForLine(byMsg('connection closed'));
      expect(closed).toMatchObject({
        level: 30,
        context: 'Gateway',
        principal: 'token-1',
        remote: '127.0.0.1',
        code: 1000,
        messagesIn: 2,
        messagesOut: 2,
      });
      expect(typeof closed.connection).toBe('string');
      expect(typeof closed.durationMs).toBe('number');
      await gateway.waitForLine(
        (l) =>
          l.msg === 'connection closed' && l.connection !== closed.connection,
      );
      await gateway.waitForLine(byMsg('handshake refused'));
      const access = await gateway.waitForLine(
        (l) => l.msg === 'request completed' || l.msg === 'request errored',
      );
      expect(access.req).toMatchObject({ method: 'GET', path: '/nowhere' });

      expect(gateway.lines().filter(byMsg('connection opened'))).toHaveLength(
        2,
      );
      expect(gateway.lines().filter(byMsg('connection closed'))).toHaveLength(
        2,
      );
      const output = gateway.output();
      expect(output).not.toContain(token);
      expect(output).not.toContain('wrong-token-xyz');
    });
  });

  describe('what a client controls in logs and headers', () => {
    const token = 'client-controls-token';
    const spoofed = '198.51.100.66';

    /** Opens and closes one connection with these headers; its `connection opened` line. */
    async function openedLine(
      gateway: SpawnedGateway,
      headers: Record<string, string>,
    ): Promise<LogLine> {
      const before = new Set(
        gateway
          .lines()
          .filter(byMsg('connection opened'))
          .map((l) => l.connection),
      );
      const client = await connect(`ws://127.0.0.1:${gateway.port}/`, {
        token,
        headers,
      });
      await client.request('echo', 1, 1);
      await client.close(1000);
      return gateway.waitForLine(
        (l) => l.msg === 'connection opened' && !before.has(l.connection),
      );
    }

    describe('with no trusted proxy (the default)', () => {
      let gateway: SpawnedGateway;

      beforeAll(async () => {
        gateway = await spawnGateway({ AUTH_TOKENS: token });
      });
      afterAll(async () => {
        await gateway.stop();
      });

      it('logs the peer’s address and nothing of a spoofed X-Forwarded-For', async () => {
        const line = await openedLine(gateway, {
          'X-Forwarded-For': spoofed,
        });
        expect(line.remote).toBe('127.0.0.1');
        await fetch(`http://127.0.0.1:${gateway.port}/nowhere`, {
          headers: { 'X-Forwarded-For': spoofed },
        });
        await gateway.waitForLine(
          (l) => (l.req as { path?: string } | undefined)?.path === '/nowhere',
        );
        expect(gateway.output()).not.toContain(spoofed);
      });

      it('sends no X-Powered-By header', async () => {
        for (const path of ['/healthz', '/nope']) {
          const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`);
          await res.text();
          expect(res.headers.get('x-powered-by'), path).toBeNull();
        }
      });

      it('answers an unknown path with a 404 that quotes neither the path nor its query', async () => {
        const res = await fetch(
          `http://127.0.0.1:${gateway.port}/nope?token=secret`,
        );
        expect(res.status).toBe(404);
        const body = await res.text();
        expect(body).not.toContain('nope');
        expect(body).not.toContain('secret');
      });

      it('answers a badly encoded path with an error that does not quote it', async () => {
        const res = await fetch(
          `http://127.0.0.1:${gateway.port}/%FFbad?token=secret`,
        );
        expect(res.status).toBeGreaterThanOrEqual(400);
        const body = await res.text();
        expect(body).not.toContain('bad');
        expect(body).not.toContain('secret');
      });
    });

    describe('behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1)', () => {
      let gateway: SpawnedGateway;

      beforeAll(async () => {
        gateway = await spawnGateway({
          AUTH_TOKENS: token,
          TRUSTED_PROXIES: '127.0.0.1',
        });
      });
      afterAll(async () => {
        await gateway.stop();
      });

      it('logs the right-most untrusted address of X-Forwarded-For, and the proxy', async () => {
        const line = await openedLine(gateway, {
          'X-Forwarded-For': `${spoofed}, 203.0.113.7, 127.0.0.1`,
        });
        expect(line).toMatchObject({
          remote: '203.0.113.7',
          proxy: '127.0.0.1',
        });
        const closed = await gateway.waitForLine(
          (l) =>
            l.msg === 'connection closed' && l.connection === line.connection,
        );
        expect(closed.remote).toBe('203.0.113.7');
        expect(gateway.output()).not.toContain(spoofed);
      });

      it('bounds what an overlong X-Forwarded-For puts in a line', async () => {
        const many = `${'10.9.8.7, '.repeat(1_500)}203.0.113.8`;
        expect(many.length).toBeGreaterThan(15_000);
        const fromList = await openedLine(gateway, { 'X-Forwarded-For': many });
        expect(fromList.remote).toBe('203.0.113.8');
        expect(JSON.stringify(fromList).length).toBeLessThan(400);

        const junk = await openedLine(gateway, {
          'X-Forwarded-For': 'x'.repeat(15_000),
        });
        expect(junk.remote).toBe('127.0.0.1');
        expect(JSON.stringify(junk).length).toBeLessThan(400);
        expect(gateway.output()).not.toContain('x'.repeat(100));
      });
    });
  });

  describe('shutdown', () => {
    it('drains several hundred clients with 1001 on SIGTERM and exits 0 within the drain time', async () => {
      const drainMs = 3_000;
      const gateway = await spawnGateway({
        AUTH_TOKENS: 'shutdown-token',
        SHUTDOWN_DRAIN_MS: String(drainMs),
      });
      const url = `ws://127.0.0.1:${gateway.port}/`;
      const clients: TestClient[] = [];
      for (let i = 0; i < 300; i += 50) {
        clients.push(
          ...(await Promise.all(
            Array.from({ length: 50 }, () =>
              connect(url, { token: 'shutdown-token' }),
            ),
          )),
        );
      }
      // One peer that never answers the close frame keeps the drain open until its deadline.
      const stubborn = await openStubbornSocket(gateway.port, 'shutdown-token');

      const started = Date.now();
      gateway.child.kill('SIGTERM');
      const closes = await Promise.all(clients.map((c) => c.closed));
      expect(closes.filter((c) => c.code === 1001)).toHaveLength(300);

      // Draining: not ready, and no new upgrades, while the stubborn peer is still connected.
      const readyz = await fetch(`http://127.0.0.1:${gateway.port}/readyz`);
      expect(readyz.status).toBe(503);
      expect(
        (
          (await handshakeStatus(url, {
            token: 'shutdown-token',
          })) as HandshakeRefused
        ).status,
      ).toBe(503);

      expect(await gateway.exited).toBe(0);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(drainMs - 100);
      expect(elapsed).toBeLessThan(drainMs + 2_000);
      expect(await stubborn.ended).toBe('closed by the server');
      const drained = gateway
        .lines()
        .find((l) => l.msg === 'connections drained');
      expect(drained).toMatchObject({ closed: 300, terminated: 1 });
    });
  });

  describe('a port already in use', () => {
    it('exits 1 with a fatal log line naming EADDRINUSE', async () => {
      const taken = createServer();
      await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
      const { port } = taken.address() as AddressInfo;
      try {
        const gateway = runGateway({
          PORT: String(port),
          HOST: '127.0.0.1',
          AUTH_TOKENS: 'busy-port-token',
        });
        expect(await gateway.exited).toBe(1);
        const fatal = gateway
          .lines()
          .find((l) => l.msg === 'the gateway could not start');
        expect(fatal, gateway.output()).toMatchObject({ level: 60 });
        expect(JSON.stringify(fatal)).toContain('EADDRINUSE');
      } finally {
        await new Promise((done) => taken.close(done));
      }
    });
  });

  describe('the log buffer', () => {
    it('is written out when the process exits without a shutdown', () => {
      // A line logged just before process.exit(), with no app.close() to flush it: the
      // destination's exit hook must write it.
      const script = [
        "import 'reflect-metadata';",
        `const { LogDestination } = await import(${JSON.stringify(pathToFileURL(resolve(import.meta.dirname, '../dist/logging/log-destination.js')).href)});`,
        'const destination = new LogDestination();',
        'destination.stream.write(\'{"msg":"last words"}\\n\');',
        'process.exit(3);',
      ].join('\n');
      const run = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', script],
        { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(3);
      expect(run.stdout).toBe('{"msg":"last words"}\n');
    });
  });

  describe('invalid configuration', () => {
    it('stops the boot with one message naming every bad variable', async () => {
      const gateway = runGateway({
        PORT: 'eighty',
        WS_MAX_PAYLOAD: '-5',
        LOG_LEVEL: 'loud',
        WS_PATH: 'no-slash',
        AUTH_DISABLED: 'maybe',
      });
      const code = await gateway.exited;
      expect(code).not.toBe(0);
      const output = gateway.output();
      expect(output).toContain('Invalid configuration (5 problems)');
      for (const name of [
        'PORT',
        'WS_MAX_PAYLOAD',
        'LOG_LEVEL',
        'WS_PATH',
        'AUTH_DISABLED',
      ]) {
        expect(output).toContain(`${name}:`);
      }
    });
  });
});
