import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConnectionRegistry } from '../src/gateway/connections/connection-registry.js';
import { ClientProbeGateway } from './support/client-probe.gateway.js';
import { runCli, startCli } from './support/run-cli.js';
import { startApp, TEST_TOKEN, type RunningApp } from './support/start-app.js';
import { connect } from './support/ws-client.js';

const ESC = '\x1b[';

describe('the command-line client, run from dist/ (e2e)', () => {
  let gateway: RunningApp;

  beforeAll(async () => {
    gateway = await startApp({ providers: [ClientProbeGateway] });
  });
  afterAll(async () => {
    await gateway.close();
  });

  describe('--history and --presence', () => {
    it('--history prints the kept messages as JSON lines and the position on stderr', async () => {
      const publisher = await connect(gateway.wsUrl, { token: TEST_TOKEN });
      for (const n of [1, 2, 3])
        await publisher.request('publish', { room: 'cli-h', data: n }, n);
      await publisher.close();
      const result = await runCli([
        gateway.wsUrl,
        '--token',
        TEST_TOKEN,
        '--history',
        'cli-h',
        '--limit',
        '2',
      ]);
      expect(result.code).toBe(0);
      expect(
        result.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { data: number; offset: number }),
      ).toEqual([
        expect.objectContaining({ room: 'cli-h', data: 2, offset: 2 }),
        expect.objectContaining({ room: 'cli-h', data: 3, offset: 3 }),
      ]);
      expect(result.stderr).toContain('3');
    });

    it('--presence is refused to a non-member, with the hint; --join lists the room with itself', async () => {
      const refused = await runCli([
        gateway.wsUrl,
        '--token',
        TEST_TOKEN,
        '--presence',
        'cli-p',
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('FORBIDDEN');
      expect(refused.stderr).toContain('--join');
      const joined = await runCli([
        gateway.wsUrl,
        '--token',
        TEST_TOKEN,
        '--presence',
        'cli-p',
        '--join',
      ]);
      expect(joined.code).toBe(0);
      expect(JSON.parse(joined.stdout)).toEqual({
        id: expect.any(String),
        info: {},
        connections: 1,
      });
      expect(joined.stderr).toContain('cli-p: 1 member');
    });
  });

  // Independent processes: run side by side, each asserting with its own expect.
  describe.concurrent('--send', () => {
    it('sends a JSON envelope, prints the reply on stdout and exits 0', async ({
      expect,
    }) => {
      const result = await runCli([
        gateway.wsUrl,
        '--token',
        TEST_TOKEN,
        '--send',
        '{"event":"echo","data":"hello","id":1}',
      ]);
      expect(result).toEqual({
        code: 0,
        stdout: '{"event":"echo","data":"hello","id":1}\n',
        stderr: '',
      });
    });

    it('sends plain text as typed, as the tutorial client does', async ({
      expect,
    }) => {
      const result = await runCli([
        gateway.wsUrl,
        '-t',
        TEST_TOKEN,
        '-s',
        'Hello world',
      ]);
      expect(result.stdout).toBe('server received: Hello world\n');
      expect(result.code).toBe(0);
    });

    it('takes the token from GATEWAY_TOKEN', async ({ expect }) => {
      const result = await runCli([gateway.wsUrl, '--send', 'hi'], {
        env: { GATEWAY_TOKEN: TEST_TOKEN },
      });
      expect(result.stdout).toBe('server received: hi\n');
    });

    it('prints the HTTP status of a refused handshake on stderr and exits 1', async ({
      expect,
    }) => {
      const result = await runCli([
        gateway.wsUrl,
        '--token',
        'wrong',
        '--send',
        'hi',
      ]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('handshake refused: HTTP 401 Unauthorized\n');
    });

    it('prints the code and reason of a close that comes before any frame, and exits 1', async ({
      expect,
    }) => {
      const result = await runCli([
        gateway.wsUrl,
        '--token',
        TEST_TOKEN,
        '--send',
        '{"event":"client-probe.close","data":{"code":4000,"reason":"bye"}}',
      ]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('closed: 4000 bye\n');
    });

    it('says so when nothing listens, and exits 1', async ({ expect }) => {
      const result = await runCli([
        'ws://127.0.0.1:1/',
        '--token',
        TEST_TOKEN,
        '--send',
        'hi',
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^cannot connect: .*ECONNREFUSED/);
    });

    it('colours only on request when stdout is not a terminal', async ({
      expect,
    }) => {
      const args = [gateway.wsUrl, '-t', TEST_TOKEN, '-s', 'hi'];
      expect((await runCli(args)).stdout).not.toContain(ESC);
      const coloured = await runCli([...args, '--color']);
      expect(coloured.stdout).toBe(`${ESC}32mserver received: hi${ESC}0m\n`);
    });

    it('refuses bad usage with exit status 2', async ({ expect }) => {
      const result = await runCli(['not-a-url', '--send', 'x']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('not a ws:// or wss:// URL');
      expect(result.stderr).toContain('usage: npm run client');
    });
  });

  describe('the prompt', () => {
    it('sends each line of stdin and prints every frame, pushes included, then exits 0 at the end of input', async () => {
      const cli = startCli([gateway.wsUrl, '--token', TEST_TOKEN]);
      try {
        await cli.waitFor('stderr', `connected to ${gateway.wsUrl}`);
        cli.writeLine('{"event":"echo","data":"one","id":1}');
        await cli.waitFor('stdout', '< {"event":"echo","data":"one","id":1}');
        cli.writeLine('Hello');
        await cli.waitFor('stdout', '< server received: Hello');
        cli.writeLine('{"event":"nope","id":2}');
        await cli.waitFor('stdout', '"code":"UNKNOWN_EVENT"');
        cli.writeLine('{"event":"join","data":{"room":"cli"},"id":3}');
        // The room keeps history: the reply is its position, empty so far.
        const joined = await cli.waitFor(
          'stdout',
          /^< \{"event":"join","data":\{"room":"cli","offset":0,"epoch":"[A-Za-z0-9_-]{12}"\},"id":3\}$/,
        );
        const { epoch } = (
          JSON.parse(joined.slice(2)) as { data: { epoch: string } }
        ).data;

        // Frames nobody asked for are printed too: a broadcast, a room message.
        const other = await connect(gateway.wsUrl, { token: TEST_TOKEN });
        const otherId = gateway.app.get(ConnectionRegistry).all().at(-1)!.id;
        try {
          await other.request('broadcast', { text: 'hi all' }, 1);
          await cli.waitFor('stdout', '"data":{"text":"hi all"}');
          expect(
            (await other.request('publish', { room: 'cli', data: 'psst' }, 2))
              .data,
          ).toEqual({
            room: 'cli',
            recipients: 1,
            instances: 1,
            offset: 1,
            epoch,
          });
          // The room message as it came, then its offset marked after it.
          const message = JSON.stringify({
            event: 'message',
            data: { room: 'cli', from: otherId, data: 'psst', offset: 1 },
          });
          expect(await cli.waitFor('stdout', /"psst"/)).toBe(`< ${message} #1`);
        } finally {
          await other.close();
        }

        cli.end();
        const result = await cli.exited;
        expect(result.code).toBe(0);
        expect(result.stdout).not.toContain(ESC);
      } finally {
        cli.child.kill();
      }
    });

    it('waits for the replies to lines piped in at once before it exits', async () => {
      const input = [
        '{"event":"echo","data":1,"id":"a"}',
        'plain',
        '',
        '{"event":"echo","data":2,"id":"b"}',
      ].join('\n');
      const result = await runCli([gateway.wsUrl, '-t', TEST_TOKEN], {
        input: `${input}\n`,
      });
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n').filter(Boolean).sort()).toEqual(
        [
          '< {"event":"echo","data":1,"id":"a"}',
          '< {"event":"echo","data":2,"id":"b"}',
          '< server received: plain',
        ].sort(),
      );
    });

    it('prints the close code and reason when the server goes away, and exits 1', async () => {
      const own = await startApp();
      const cli = startCli([own.wsUrl, '--token', TEST_TOKEN]);
      try {
        await cli.waitFor('stderr', 'connected to');
      } finally {
        await own.close();
      }
      const result = await cli.exited;
      expect(result.stderr).toMatch(/^closed: 1001 \S/m);
      expect(result.code).toBe(1);
    });

    it('prints the HTTP status of a refused handshake and exits 1', async () => {
      const result = await runCli([gateway.wsUrl, '--token', 'wrong']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('handshake refused: HTTP 401 Unauthorized\n');
    });
  });

  it('is importable as the package subpath "nest-ws-gateway/client", and imports nothing but itself and the wire protocol', async () => {
    const root = resolve(import.meta.dirname, '..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const c = await import('nest-ws-gateway/client'); console.log(typeof c.GatewayClient);",
      ],
      { cwd: root },
    );
    expect(stdout).toBe('function\n');
    // What a browser bundle gets: every static import is one of the client's own files or of
    // the wire protocol it shares with the server, which imports only its own files.
    const files = (dir: string) =>
      readdirSync(resolve(root, dir))
        .filter((f) => f.endsWith('.js') && f !== 'cli.js')
        .map((f) => `${dir}/${f}`);
    const library = [...files('dist/client'), ...files('dist/protocol')];
    expect(library).toContain('dist/client/index.js');
    for (const file of library) {
      const code = readFileSync(resolve(root, file), 'utf8');
      for (const [, specifier] of code.matchAll(/\bfrom\s+'([^']+)'/g)) {
        expect(specifier, file).toMatch(
          file.startsWith('dist/client/')
            ? /^(\.\/[a-z-]+|\.\.\/protocol\/[a-z-]+)\.js$/
            : /^\.\/[a-z-]+\.js$/,
        );
      }
    }
  });
});
