import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import {
  connect,
  handshakeStatus,
  type HandshakeRefused,
} from './support/ws-client.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples/chat-host');

/** A node of `npm ls --all --json`: a package and what it depends on, as installed. */
interface InstalledTree {
  version?: string;
  dependencies?: Record<string, InstalledTree>;
}

/** Every package name in the tree below `node`, at any depth. */
function packageNames(
  node: InstalledTree,
  into = new Set<string>(),
): Set<string> {
  for (const [name, child] of Object.entries(node.dependencies ?? {})) {
    into.add(name);
    packageNames(child, into);
  }
  return into;
}

/**
 * What the service runs on and a host does not get from the package: its logger, its
 * configuration and its health checks. The host installs `@nestjs/platform-express` itself.
 */
const SERVICE_ONLY = [
  'nestjs-pino',
  'pino',
  'pino-http',
  'pino-pretty',
  '@nestjs/config',
  '@nestjs/terminus',
];

/**
 * The package as a team would consume it: `npm pack`, the tarball installed into a copy of
 * examples/chat-host next to nothing but Nest's own packages, the host compiled against the
 * package's types with `strict`, started, and talked to over real sockets.
 */
const CONSOLE_SECRET = 'packaged-console-secret';
const CONSOLE_LOGIN = `ops:admin:${CONSOLE_SECRET}`;

describe('the npm package in a host application (e2e)', () => {
  let workdir: string;
  let tarball: string;
  let host: ChildProcess | undefined;
  let port: number;
  let installed: InstalledTree;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/index.js'))) {
      throw new Error(
        'dist/ is missing: run "npm run build" first (npm test does it)',
      );
    }
    workdir = mkdtempSync(join(tmpdir(), 'gateway-pack-'));
    const packed = await run(
      'npm',
      ['pack', '--pack-destination', workdir, '--silent'],
      { cwd: ROOT },
    );
    tarball = join(workdir, packed.stdout.trim().split('\n').at(-1)!);

    const app = join(workdir, 'app');
    cpSync(join(EXAMPLE, 'src'), join(app, 'src'), { recursive: true });
    cpSync(join(EXAMPLE, 'tsconfig.json'), join(app, 'tsconfig.json'));
    const manifest = JSON.parse(
      readFileSync(join(EXAMPLE, 'package.json'), 'utf8'),
    );
    manifest.dependencies['nest-ws-gateway'] = `file:${tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      {
        cwd: app,
        timeout: 180_000,
      },
    );
    const listed = await run('npm', ['ls', '--all', '--json'], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
    });
    installed = JSON.parse(listed.stdout) as InstalledTree;
    await run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], {
      cwd: app,
    });

    host = spawn(process.execPath, ['dist/main.js'], {
      cwd: app,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        CHAT_CONSOLE_TOKENS: CONSOLE_LOGIN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    port = await new Promise<number>((resolvePort, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`the host did not start:\n${out}`)),
        20_000,
      );
      const read = (chunk: Buffer) => {
        out += chunk.toString();
        const found = /chat host listening on (\d+)/.exec(out);
        if (found) {
          clearTimeout(timer);
          resolvePort(Number(found[1]));
        }
      };
      host!.stdout!.on('data', read);
      host!.stderr!.on('data', read);
      host!.once('exit', (code) =>
        reject(new Error(`the host exited with ${code}:\n${out}`)),
      );
    });
  }, 240_000);

  afterAll(() => {
    host?.kill('SIGTERM');
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('serves the web console from the installed package, turned on by one option', async () => {
    const base = `http://127.0.0.1:${port}/console`;
    const page = await fetch(base);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`http://127.0.0.1:${port}${script!}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: CONSOLE_SECRET }),
    });
    expect(await login.json()).toMatchObject({ user: 'ops', role: 'admin' });
    const instances = await fetch(`${base}/api/instances`, {
      headers: { authorization: `Bearer ${CONSOLE_SECRET}` },
    });
    expect(await instances.json()).toMatchObject({
      instances: [expect.objectContaining({ gone: false })],
    });
  });

  it('documents the host’s events with the standard ones at /asyncapi.json, a valid AsyncAPI document', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/asyncapi.json`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const { diagnostics } = await new Parser().parse(text);
    expect(
      diagnostics
        .filter((d) => d.severity === 0)
        .map((d) => `${d.path.join('.')}: ${d.message}`),
    ).toEqual([]);
    const doc = JSON.parse(text) as {
      info: { title: string; version: string };
      channels: Record<string, { address: string }>;
      operations: Record<string, { action: string }>;
      components: { schemas: Record<string, { required?: string[] }> };
    };
    // Titled with the host's own package, not the library's.
    expect(doc.info).toMatchObject({ title: 'chat-host' });
    // One path, /ws: one channel for the host's gateway and the standard one.
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual(['/ws']);
    expect(Object.keys(doc.operations)).toEqual(
      expect.arrayContaining([
        'gateway.send.chat.say',
        'gateway.send.chat.whoami',
        'gateway.send.echo',
        'gateway.send.join',
        'gateway.send.publish',
        'gateway.receive.message',
        'gateway.receive.broadcast',
      ]),
    );
    expect(doc.components.schemas.SayDto).toMatchObject({
      properties: { room: { pattern: '^[\\w-]{1,64}$' }, text: {} },
      required: ['room', 'text'],
    });
    expect(doc.components.schemas.SaidReply?.required).toEqual(
      expect.arrayContaining(['room', 'recipients', 'instances']),
    );
    expect(doc.components.schemas.WhoAmIReply?.required).toEqual([
      'subject',
      'scopes',
    ]);
  });

  it('ships the built library and nothing of the sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const entries = stdout.trim().split('\n');
    expect(entries).toContain('package/dist/index.js');
    expect(entries).toContain('package/dist/index.d.ts');
    expect(entries).toContain('package/dist/client/index.js');
    // The web console's page, built by `npm run build:console`.
    expect(entries).toContain('package/dist-console/index.html');
    expect(
      entries.filter(
        (e) =>
          /\/(src|test|examples|bench)\//.test(e) ||
          /spec\.(js|d\.ts)$/.test(e),
      ),
    ).toEqual([]);
  });

  it('leaves the service out: its files need packages a host does not install', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const entries = stdout.trim().split('\n');
    // The client's command line reads its environment from there, without the service's config.
    expect(entries).toContain('package/dist/config/client-environment.js');
    expect(
      entries.filter(
        (e) =>
          /^package\/dist\/(main|app\.module|setup-app)\./.test(e) ||
          /^package\/dist\/(logging|health|http)\//.test(e) ||
          (e.startsWith('package/dist/config/') &&
            !/\/client-environment\./.test(e)),
      ),
    ).toEqual([]);
  });

  it('installs the library’s dependencies into the host and none of the service’s', () => {
    const names = packageNames(installed);
    const gateway = installed.dependencies?.['nest-ws-gateway'];
    expect(gateway).toBeDefined();
    expect(names).toContain('ws');
    expect(SERVICE_ONLY.filter((name) => names.has(name))).toEqual([]);
    // The host's own dependency, never one the package brings.
    expect(Object.keys(gateway!.dependencies ?? {})).not.toContain(
      '@nestjs/platform-express',
    );
  });

  it('authenticates with the host’s verifier and serves the host’s events on its path', async () => {
    const url = `ws://127.0.0.1:${port}/ws`;
    expect(
      ((await handshakeStatus(url, { token: 'not-a-key' })) as HandshakeRefused)
        .status,
    ).toBe(401);
    const alice = await connect(url, { token: 'demo-key-alice' });
    const bob = await connect(url, { token: 'demo-key-bob' });

    // Rooms keep history by default: the join replies the room's position, empty so far, and
    // the host's publish is its first message.
    const joined = await bob.request('join', { room: 'general' }, 1);
    expect(joined).toEqual({
      event: 'join',
      data: {
        room: 'general',
        offset: 0,
        epoch: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) as string,
      },
      id: 1,
    });
    const { epoch } = joined.data as { epoch: string };
    const ack = await alice.request(
      'chat.say',
      { room: 'general', text: 'hello from alice' },
      2,
    );
    expect(ack).toEqual({
      event: 'chat.say',
      data: { room: 'general', recipients: 1, instances: 1, offset: 1, epoch },
      id: 2,
    });
    expect(await bob.nextJson()).toEqual({
      event: 'message',
      data: {
        room: 'general',
        from: 'alice',
        data: { text: 'hello from alice' },
        offset: 1,
      },
    });

    expect(
      await alice.request('chat.say', { room: 'general', text: '' }, 3),
    ).toMatchObject({
      event: 'error',
      id: 3,
      data: { code: 'BAD_REQUEST' },
    });
    expect(await alice.request('chat.whoami', null, 4)).toMatchObject({
      event: 'error',
      id: 4,
      data: { code: 'FORBIDDEN' },
    });
    expect(await bob.request('chat.whoami', null, 5)).toEqual({
      event: 'chat.whoami',
      data: { subject: 'bob', scopes: ['chat', 'moderate'] },
      id: 5,
    });

    const res = await fetch(`http://127.0.0.1:${port}/announcements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'from HTTP' }),
    });
    expect(await res.json()).toEqual({ recipients: 2, instances: 1 });
    for (const c of [alice, bob]) {
      expect(await c.nextJson()).toEqual({
        event: 'broadcast',
        data: { from: 'announcements', data: 'from HTTP' },
      });
    }
    await Promise.all([alice.close(), bob.close()]);
  });
});
