/**
 * `npm run bench:instructions`: how many CPU instructions the server runs per echo round trip
 * and per handshake, the gateway against plain `ws`, counted by Valgrind's callgrind.
 *
 * The timed benchmark's windows swing by a fifth from one to the next on a shared VM; an
 * instruction count does not: two runs of the same build agree to a few parts in a thousand. It
 * counts the server's own user-space work only (not the kernel's side of its socket calls, not
 * cache misses), so it is the tool for deciding whether a change to the hot path does less work,
 * and the timed benchmark remains the measure of what that is worth.
 *
 * Each server runs under callgrind with counting off; this process connects, warms the server
 * up (so that the JIT has compiled the hot path), turns counting on (`callgrind_control`), runs
 * a fixed number of operations, turns it off, and reads the total. Under Valgrind a server is
 * some 50 times slower: the counts are small and the run takes about a minute per server.
 *
 * Usage: `node dist-bench/bench/instructions.js [--gateway=<path to main.js>]...`; several
 * `--gateway=` compare builds (a build of another commit, say) with each other and plain `ws`.
 * Needs `valgrind` (Debian's package).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { WebSocket } from 'ws';
import { BENCH_TOKEN, GATEWAY_ENV } from './servers/launch.js';
import { until } from './support/clock.js';
import { GATEWAY_MAIN, PLAIN_MAIN, ROOT, SCRATCH } from './support/paths.js';
import { freePort } from './support/ports.js';

/** What each server is put through: echo at 100 × 1 in flight, then handshakes in 64 lanes. */
const ECHO = { connections: 100, warm: 20_000, counted: 10_000 };
const HANDSHAKES = { lanes: 64, warm: 2_000, counted: 2_000 };

/**
 * Where callgrind and its control meet: a file named after a prefix, the user and the host, which
 * both sides must read alike from the environment (a shell may not set USER at all).
 */
const VGDB_PREFIX = resolve(SCRATCH, 'vgdb');
const VGDB_ENV = {
  USER: process.env.USER || 'bench',
  LOGNAME: process.env.USER || 'bench',
  HOST: '127.0.0.1',
};

interface Target {
  label: string;
  main: string;
  env: Record<string, string>;
}

const FRAME = (id: number) =>
  `{"event":"echo","data":{"text":"hello","n":${id}},"id":${id}}`;

/** `count` round trips over `sockets`, one request in flight on each. */
async function echoes(sockets: WebSocket[], count: number): Promise<void> {
  let sent = 0;
  let answered = 0;
  let id = 0;
  await new Promise<void>((done) => {
    for (const ws of sockets) {
      ws.removeAllListeners('message');
      ws.on('message', () => {
        if (++answered === count) done();
        else if (sent < count) {
          sent++;
          ws.send(FRAME(++id));
        }
      });
    }
    for (const ws of sockets) {
      if (sent === count) break;
      sent++;
      ws.send(FRAME(++id));
    }
  });
}

const HANDSHAKE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** A masked close frame, code 1000. */
const CLOSE = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);

/** Upgrade with the token, wait for the 101, close: true when the server said 101. */
function handshake(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    let head = '';
    let opened = false;
    socket.once('connect', () =>
      socket.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n` +
          `Authorization: Bearer ${BENCH_TOKEN}\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      if (opened || head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      opened = head.startsWith('HTTP/1.1 101');
      socket.write(CLOSE);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => done(opened));
  });
}

async function handshakes(port: number, count: number): Promise<void> {
  let left = count;
  let refused = 0;
  await Promise.all(
    Array.from({ length: HANDSHAKES.lanes }, async () => {
      while (left-- > 0) if (!(await handshake(port))) refused++;
    }),
  );
  if (refused > 0) throw new Error(`${refused} handshake(s) refused`);
}

function control(pid: number, ...args: string[]): void {
  execFileSync(
    'callgrind_control',
    [`--vgdb-prefix=${VGDB_PREFIX}`, ...args, String(pid)],
    { stdio: 'ignore', env: { ...process.env, ...VGDB_ENV } },
  );
}

/** The dumps callgrind has written for `out` so far: `<out>.1`, `<out>.2`, ... */
function dumpsOf(out: string): string[] {
  const name = `${basename(out)}.`;
  return readdirSync(dirname(out))
    .filter((f) => f.startsWith(name))
    .map((f) => resolve(dirname(out), f));
}

/** Instructions counted in `dumps`. */
function totalOf(dumps: string[]): number {
  let total = 0;
  for (const dump of dumps) {
    const match = /^totals: (\d+)/m.exec(readFileSync(dump, 'utf8'));
    if (match) total += Number(match[1]);
  }
  return total;
}

/** Instructions per echo round trip and per handshake of one server. */
async function measure(
  target: Target,
): Promise<{ echo: number; handshake: number }> {
  const port = await freePort();
  const out = resolve(SCRATCH, `callgrind-${target.label}-${port}.out`);
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--vgdb-prefix=${VGDB_PREFIX}`,
      `--callgrind-out-file=${out}`,
      process.execPath,
      target.main,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...target.env, ...VGDB_ENV, PORT: String(port) },
      stdio: 'ignore',
    },
  );
  const pid = child.pid!;
  const counted = async <T>(run: () => Promise<T>): Promise<number> => {
    const before = new Set(dumpsOf(out));
    control(pid, '--zero');
    control(pid, '--instr=on');
    await run();
    control(pid, '--instr=off');
    control(pid, '--dump');
    return totalOf(dumpsOf(out).filter((dump) => !before.has(dump)));
  };
  try {
    await until(
      `${target.label} under valgrind to answer`,
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          return res.ok || undefined;
        } catch {
          return undefined;
        }
      },
      300_000,
      1000,
    );
    const sockets = await Promise.all(
      Array.from(
        { length: ECHO.connections },
        () =>
          new Promise<WebSocket>((opened, failed) => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
              headers: { Authorization: `Bearer ${BENCH_TOKEN}` },
              perMessageDeflate: false,
            });
            ws.once('open', () => opened(ws));
            ws.once('error', failed);
          }),
      ),
    );
    await echoes(sockets, ECHO.warm);
    const echo =
      (await counted(() => echoes(sockets, ECHO.counted))) / ECHO.counted;
    for (const ws of sockets) ws.terminate();
    await handshakes(port, HANDSHAKES.warm);
    const perHandshake =
      (await counted(() => handshakes(port, HANDSHAKES.counted))) /
      HANDSHAKES.counted;
    return { echo, handshake: perHandshake };
  } finally {
    // SIGTERM, so that valgrind removes the files it shares with its control; SIGKILL if stuck.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const stuck = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(stuck);
    }
    for (const dump of dumpsOf(out)) rmSync(dump);
    rmSync(out, { force: true });
  }
}

async function main(): Promise<void> {
  mkdirSync(SCRATCH, { recursive: true });
  const gateways = process.argv
    .slice(2)
    .filter((a) => a.startsWith('--gateway='))
    .map((a) => resolve(a.slice('--gateway='.length)));
  const targets: Target[] = [
    ...(gateways.length ? gateways : [GATEWAY_MAIN]).map((main, i) => ({
      label: gateways.length > 1 ? `gateway-${i + 1}` : 'gateway',
      main,
      env: GATEWAY_ENV,
    })),
    {
      label: 'plain',
      main: PLAIN_MAIN,
      env: { HOST: '127.0.0.1', AUTH_TOKENS: BENCH_TOKEN },
    },
  ];
  const results = [];
  for (const target of targets) {
    process.stderr.write(`counting ${target.label} (${target.main})\n`);
    results.push({ target, ...(await measure(target)) });
  }
  const plain = results.at(-1)!;
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(12) : c.padStart(22))).join('');
  process.stdout.write(
    `${line(['server', 'instr. per round trip', 'instr. per handshake'])}\n`,
  );
  for (const r of results) {
    const ratio = (a: number, b: number) =>
      r === plain ? '' : ` (${(a / b).toFixed(3)})`;
    process.stdout.write(
      `${line([
        r.target.label,
        `${Math.round(r.echo).toLocaleString('en-US')}${ratio(r.echo, plain.echo)}`,
        `${Math.round(r.handshake).toLocaleString('en-US')}${ratio(r.handshake, plain.handshake)}`,
      ])}\n`,
    );
  }
  process.stdout.write(
    `echo: ${ECHO.connections} connections x 1 in flight, ${ECHO.counted.toLocaleString('en-US')} round trips counted after ${ECHO.warm.toLocaleString('en-US')}; handshakes: ${HANDSHAKES.lanes} lanes, ${HANDSHAKES.counted.toLocaleString('en-US')} counted after ${HANDSHAKES.warm.toLocaleString('en-US')}; (ratio to plain ws)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
