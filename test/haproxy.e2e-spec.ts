import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './support/eventually.js';
import { spawnGateway, type SpawnedGateway } from './support/spawn-gateway.js';
import { connect, handshakeStatus } from './support/ws-client.js';

const CONFIG = resolve(import.meta.dirname, '../deploy/haproxy.cfg');
// Debian installs it in /usr/sbin, which is not on every user's PATH.
const HAPROXY = existsSync('/usr/sbin/haproxy')
  ? '/usr/sbin/haproxy'
  : 'haproxy';

/** A port nothing listens on now (the kernel's choice), for a process that binds it itself. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/** Replaces what `pattern` matches, failing when it matches nothing: the file changed shape. */
function substitute(
  text: string,
  pattern: RegExp,
  replacement: string,
): string {
  if (!pattern.test(text)) {
    throw new Error(
      `deploy/haproxy.cfg has nothing matching ${pattern}; adapt test/haproxy.e2e-spec.ts to it`,
    );
  }
  pattern.lastIndex = 0;
  return text.replace(pattern, replacement);
}

/**
 * The committed configuration with only what differs on this machine changed: the frontend on a
 * free loopback port, the two replicas on the local gateways' ports instead of compose's DNS
 * names, the log to standard output (where the test reads it), and a global `maxconn` within
 * this machine's open-files limit (HAProxy refuses to start when it cannot raise its limit to
 * twice `maxconn`; compose raises the container's). Everything else, the log format included, is
 * the file as shipped.
 */
function adaptConfig(
  committed: string,
  frontendPort: number,
  gatewayPorts: readonly [number, number],
): string {
  let cfg = substitute(
    committed,
    /^(\s*bind\s+)\S*:8765\b.*$/m,
    `$1127.0.0.1:${frontendPort}`,
  );
  cfg = substitute(cfg, /\bgateway-1:8765\b/g, `127.0.0.1:${gatewayPorts[0]}`);
  cfg = substitute(cfg, /\bgateway-2:8765\b/g, `127.0.0.1:${gatewayPorts[1]}`);
  cfg = substitute(cfg, /^(\s*maxconn\s+)\d+/m, '$11000');
  // The global log target (not a proxy's `log global`).
  return substitute(
    cfg,
    /^(\s*)log\s+(?!global\b)\S+.*$/m,
    '$1log stdout format raw local0 info',
  );
}

/** HAProxy running a configuration file, its standard output and error collected. */
interface RunningHaproxy {
  readonly output: () => string;
  readonly stop: () => Promise<void>;
}

/** Starts HAProxy in the foreground; resolves once `readyUrl` answers through it. */
async function startHaproxy(
  cfgPath: string,
  readyUrl: string,
): Promise<RunningHaproxy> {
  let output = '';
  // -db: in the foreground, so `log stdout` reaches this process.
  const child = spawn(HAPROXY, ['-db', '-f', cfgPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) =>
      reject(
        new Error(
          `cannot run ${HAPROXY} (${err.message}): install Debian's haproxy (bash test/prepare.sh)`,
        ),
      ),
    );
    void exited.then(() => reject(new Error(`haproxy exited:\n${output}`)));
  });
  // Stopping it settles this too, long after the race below was decided.
  failed.catch(() => undefined);
  const running: RunningHaproxy = {
    output: () => output,
    stop: async () => {
      // No pid: it never started, and will not exit either.
      if (child.pid === undefined) return;
      if (child.exitCode === null && child.signalCode === null)
        child.kill('SIGTERM');
      await exited;
    },
  };
  try {
    await Promise.race([
      failed,
      eventually(
        () =>
          fetch(readyUrl).then(
            (r) => r.ok,
            () => false,
          ),
        `${readyUrl} through haproxy`,
        10_000,
      ),
    ]);
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

describe('the compose topology’s load balancer: HAProxy with deploy/haproxy.cfg (e2e)', () => {
  const token = 'haproxy-browser-token-5f3a9c';
  const wrongToken = 'haproxy-wrong-token-8e21d0';
  let gateways: SpawnedGateway[] = [];
  let haproxy: RunningHaproxy | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    gateways = await Promise.all([
      spawnGateway({ AUTH_TOKENS: token }),
      spawnGateway({ AUTH_TOKENS: token }),
    ]);
  });

  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all(gateways.map((g) => g.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // HAProxy starts in the test, not in a hook: without it the test fails rather than being
  // reported as skipped.
  it('logs a browser client’s handshake by its path, never its ?token=', async () => {
    const frontendPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'haproxy-e2e-'));
    const cfgPath = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfgPath,
      adaptConfig(readFileSync(CONFIG, 'utf8'), frontendPort, [
        gateways[0].port,
        gateways[1].port,
      ]),
    );
    haproxy = await startHaproxy(
      cfgPath,
      `http://127.0.0.1:${frontendPort}/healthz`,
    );
    const log = haproxy.output;
    const before = log().length;

    const url = `ws://127.0.0.1:${frontendPort}/`;
    const client = await connect(url, { token, via: 'query' });
    expect(await client.request('echo', 'through the balancer', 1)).toEqual({
      event: 'echo',
      data: 'through the balancer',
      id: 1,
    });
    await client.close(1000);
    const refused = await handshakeStatus(url, {
      token: wrongToken,
      via: 'query',
    });
    expect(refused).toMatchObject({ status: 401 });

    // HAProxy logs a session when it ends: the tunnel once closed, the 401 at once.
    const handshakes = () =>
      log()
        .slice(before)
        .split('\n')
        .filter((l) => l.includes('gateway_in') && / (101|401) /.test(l));
    await eventually(
      () => handshakes().length === 2,
      'a log line for each of the two handshakes',
      10_000,
    );
    for (const line of handshakes()) {
      expect(line).toContain('"GET / HTTP/1.1"');
    }
    expect(log()).not.toContain(token);
    expect(log()).not.toContain(wrongToken);
    expect(log()).not.toContain('token=');
  });
});
