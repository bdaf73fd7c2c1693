/**
 * A load worker: a child process of the orchestrator, pinned to the load core, holding a share of
 * the client sockets and running the commands of load/protocol.ts on them. Real `ws` clients,
 * with the options a load generator should use so that it spends its CPU on the server's replies
 * rather than on itself: no UTF-8 validation of what the server sends, and a fixed masking key
 * (`generateMask`) instead of random bytes for every frame. The key is not zero: `ws` skips
 * unmasking for a zero key, and the server must do the work any real client makes it do.
 * The connection-rate scenario alone uses bare TCP sockets (see handshakeCycle).
 */
import { connect as netConnect } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { nowUs, sleep, sleepUntil } from '../support/clock.js';
import { Histogram } from '../support/histogram.js';
import type {
  CloseAllResult,
  Command,
  ConnectCommand,
  ConnectResult,
  CpuSample,
  EchoCommand,
  EchoResult,
  HandshakeCommand,
  HandshakeResult,
  PublishCommand,
  PublishResult,
  ReceiveCommand,
  ReceiveResult,
  Reply,
  Request,
} from './protocol.js';

interface Client {
  ws: WebSocket;
  group: string;
}

const clients = new Set<Client>();

/** A constant, non-zero masking key (see the header). */
const fixedMask = (mask: Buffer) => {
  mask[0] = 0x5a;
  mask[1] = 0xa5;
  mask[2] = 0x3c;
  mask[3] = 0xc3;
};

function clientOptions(
  token: string,
  localAddress: string | undefined,
  timeoutMs: number,
) {
  return {
    headers: { Authorization: `Bearer ${token}` },
    localAddress,
    perMessageDeflate: false,
    skipUTF8Validation: true,
    generateMask: fixedMask,
    handshakeTimeout: timeoutMs,
  };
}

/** Opens one socket; rejects with what went wrong (refused upgrade, reset, timeout). */
function open(
  url: string,
  token: string,
  localAddress: string | undefined,
  timeoutMs: number,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      url,
      clientOptions(token, localAddress, timeoutMs),
    );
    const fail = (why: string) => {
      ws.removeAllListeners();
      ws.on('error', () => undefined); // a late error after terminate() must not crash the worker
      ws.terminate();
      reject(new Error(why));
    };
    ws.once('open', () => {
      ws.removeAllListeners();
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) =>
      fail(`upgrade refused: HTTP ${res.statusCode}`),
    );
    ws.once('error', (err) => fail(err.message));
  });
}

/** The CPU this process uses between two instants of the shared clock. */
async function cpuBetween(startUs: number, endUs: number): Promise<CpuSample> {
  await sleepUntil(startUs);
  const cpu0 = process.cpuUsage();
  const t0 = nowUs();
  await sleepUntil(endUs);
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: cpu.user + cpu.system, windowUs: nowUs() - t0 };
}

function track(ws: WebSocket, group: string): Client {
  const client = { ws, group };
  clients.add(client);
  ws.on('error', () => undefined); // the close that follows is what matters
  ws.once('close', () => clients.delete(client));
  return client;
}

async function connect(cmd: ConnectCommand): Promise<ConnectResult> {
  const started = Date.now();
  let next = 0;
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < cmd.count) {
      const i = next++;
      const local = cmd.localAddresses.length
        ? cmd.localAddresses[i % cmd.localAddresses.length]
        : undefined;
      try {
        track(
          await open(cmd.url, cmd.token, local, cmd.handshakeTimeoutMs),
          cmd.group,
        );
        opened++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane),
  );
  return { opened, failed, firstError, ms: Date.now() - started };
}

const ECHO_PREFIX = Buffer.from('{"event":"echo"');
const ID_KEY = Buffer.from('"id":');
const T_KEY = Buffer.from('"t":');
const BROADCAST_PUSH = Buffer.from('{"event":"broadcast","data":{"from"');

const startsWith = (buf: Buffer, prefix: Buffer) =>
  buf.length >= prefix.length &&
  buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

/** The unsigned integer after `key` in `buf` (searching from the end when `last`), or -1. */
function numberAfter(buf: Buffer, key: Buffer, last: boolean): number {
  const at = last ? buf.lastIndexOf(key) : buf.indexOf(key);
  if (at < 0) return -1;
  let n = 0;
  let i = at + key.length;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    n = n * 10 + c - 48;
  }
  return i === at + key.length ? -1 : n;
}

/**
 * Closed-loop echo: each connection keeps `inFlight` requests outstanding, sending the next one
 * as each reply comes. Latency is measured per request with the clock of this process.
 */
async function echo(cmd: EchoCommand): Promise<EchoResult> {
  const latency = new Histogram();
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let outstanding = 0;
  let sending = true;
  const RING = 64; // > inFlight: ids in flight on one connection never share a slot
  if (cmd.inFlight >= RING) throw new Error(`inFlight must be below ${RING}`);

  const conns = [...clients].map(({ ws }) => {
    const sentAt = new Float64Array(RING);
    let nextId = 0;
    const send = () => {
      const id = nextId++;
      sentAt[id % RING] = nowUs();
      outstanding++;
      ws.send(`{"event":"echo","data":{"text":"hello","n":${id}},"id":${id}}`);
    };
    const onMessage = (data: RawData) => {
      const buf = data as Buffer;
      const now = nowUs();
      const id = numberAfter(buf, ID_KEY, true);
      if (!startsWith(buf, ECHO_PREFIX)) {
        errors++;
        firstError ??= buf.toString().slice(0, 200);
      } else if (now >= cmd.startUs && now < cmd.endUs && id >= 0) {
        completed++;
        latency.record(now - sentAt[id % RING]);
      }
      outstanding--;
      if (sending && ws.readyState === WebSocket.OPEN) send();
    };
    ws.on('message', onMessage);
    return { ws, send, onMessage };
  });
  for (const c of conns) for (let i = 0; i < cmd.inFlight; i++) c.send();

  const cpu = await cpuBetween(cmd.startUs, cmd.endUs);
  sending = false;
  const drainUntil = Date.now() + cmd.drainMs;
  while (outstanding > 0 && Date.now() < drainUntil) await sleep(10);
  for (const c of conns) c.ws.off('message', c.onMessage);
  return {
    ...cpu,
    completed,
    errors,
    firstError,
    latency: latency.toData(),
    unanswered: outstanding,
  };
}

/** Counts the broadcast pushes every socket of this worker receives, with their latency. */
async function receive(cmd: ReceiveCommand): Promise<ReceiveResult> {
  const groups = new Map<
    string,
    { delivered: number; late: number; latency: Histogram }
  >();
  let other = 0;
  let firstOther: string | undefined;
  const listeners = [...clients].map(({ ws, group }) => {
    let stats = groups.get(group);
    if (!stats)
      groups.set(
        group,
        (stats = { delivered: 0, late: 0, latency: new Histogram() }),
      );
    const g = stats;
    const onMessage = (data: RawData) => {
      const buf = data as Buffer;
      const now = nowUs();
      if (!startsWith(buf, BROADCAST_PUSH)) {
        other++;
        firstOther ??= buf.toString().slice(0, 200);
        return;
      }
      // Counted by arrival, whenever it was published: what the server delivered in the window.
      if (now < cmd.startUs) return;
      const sentUs = numberAfter(buf, T_KEY, false);
      if (now < cmd.endUs) {
        g.delivered++;
        g.latency.record(now - sentUs);
      } else {
        g.late++;
      }
    };
    ws.on('message', onMessage);
    return { ws, onMessage };
  });
  const cpu = await cpuBetween(cmd.startUs, cmd.endUs);
  await sleepUntil(cmd.untilUs);
  for (const { ws, onMessage } of listeners) ws.off('message', onMessage);
  return {
    ...cpu,
    groups: Object.fromEntries(
      [...groups].map(([name, g]) => [
        name,
        { delivered: g.delivered, late: g.late, latency: g.latency.toData() },
      ]),
    ),
    other,
    firstOther,
  };
}

/** One socket broadcasts `{"t":<µs>,"s":<n>}` at a fixed rate, catching up if a tick is late. */
async function publish(cmd: PublishCommand): Promise<PublishResult> {
  const first = clients.values().next().value;
  if (!first) throw new Error('no socket to publish from');
  const ws = first.ws;
  let published = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  const onMessage = (data: RawData) => {
    const text = (data as Buffer).toString();
    if (text.startsWith('{"event":"broadcast"')) acked++;
    else {
      errors++;
      firstError ??= text.slice(0, 200);
    }
  };
  ws.on('message', onMessage);
  const startUs = nowUs();
  const cpu0 = process.cpuUsage();
  const intervalUs = 1e6 / cmd.rate;
  const maxMessages = Math.ceil(((cmd.endUs - startUs) / 1e6) * cmd.rate) + 1;
  while (published < maxMessages && ws.readyState === WebSocket.OPEN) {
    const dueUs = startUs + published * intervalUs;
    if (dueUs >= cmd.endUs) break;
    await sleepUntil(dueUs);
    ws.send(
      `{"event":"broadcast","data":{"t":${Math.round(nowUs())},"s":${published}},"id":${published}}`,
    );
    published++;
  }
  const cpu = process.cpuUsage(cpu0);
  const windowUs = nowUs() - startUs;
  const drainUntil = Date.now() + 2000;
  while (acked + errors < published && Date.now() < drainUntil) await sleep(10);
  ws.off('message', onMessage);
  return {
    cpuUs: cpu.user + cpu.system,
    windowUs,
    published,
    acked,
    errors,
    firstError,
  };
}

/** Any valid key: the server hashes it into Sec-WebSocket-Accept either way. */
const HANDSHAKE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A client close frame, code 1000, masked with the fixed key. */
const CLOSE_FRAME = Buffer.from([
  0x88,
  0x82,
  0x5a,
  0xa5,
  0x3c,
  0xc3,
  0x03 ^ 0x5a,
  0xe8 ^ 0xa5,
]);

/**
 * One connect-open-close cycle on a bare TCP socket: the upgrade request (the same headers a `ws`
 * client sends), the 101 response, a close frame, and the server's close. A `ws` client's own
 * handshake costs about twice what the server's does, which on one load core would make the load
 * side, not the server, set the rate. Resolves with the instant the 101 arrived.
 */
function handshakeCycle(
  url: URL,
  request: Buffer,
  localAddress: string | undefined,
  timeoutMs: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let head = '';
    let openedAt = -1;
    let failure: string | undefined;
    const socket = netConnect({
      host: url.hostname,
      port: Number(url.port),
      localAddress,
      noDelay: true,
    });
    const fail = (why: string) => {
      failure ??= why;
      socket.destroy();
    };
    const timer = setTimeout(() => fail('handshake timed out'), timeoutMs);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      if (openedAt >= 0) return; // the server's close frame
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16_384) fail('response headers too long');
        return;
      }
      if (!head.startsWith('HTTP/1.1 101')) {
        fail(`upgrade refused: HTTP ${head.slice(9, 12)}`);
        return;
      }
      openedAt = nowUs();
      socket.write(CLOSE_FRAME);
    });
    socket.on('error', (err) => fail(err.message));
    socket.once('close', () => {
      clearTimeout(timer);
      if (openedAt >= 0 && failure === undefined) resolve(openedAt);
      else reject(new Error(failure ?? 'closed before the upgrade completed'));
    });
  });
}

/** Connect, wait for open, close; `concurrency` such cycles at once until the window ends. */
async function handshake(cmd: HandshakeCommand): Promise<HandshakeResult> {
  const url = new URL(cmd.url);
  const request = Buffer.from(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
      `Host: ${url.host}\r\n` +
      'Connection: Upgrade\r\n' +
      'Upgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${HANDSHAKE_KEY}\r\n` +
      `Authorization: Bearer ${cmd.token}\r\n\r\n`,
    'latin1',
  );
  const latency = new Histogram();
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  let counter = 0;
  const lane = async () => {
    while (nowUs() < cmd.endUs) {
      const local = cmd.localAddresses.length
        ? cmd.localAddresses[counter++ % cmd.localAddresses.length]
        : undefined;
      const t0 = nowUs();
      try {
        const t1 = await handshakeCycle(
          url,
          request,
          local,
          cmd.handshakeTimeoutMs,
        );
        if (t1 >= cmd.startUs && t1 < cmd.endUs) {
          opened++;
          latency.record(t1 - t0);
        }
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
        await sleep(1); // a refusing server must not turn this into a busy loop
      }
    }
  };
  const [cpu] = await Promise.all([
    cpuBetween(cmd.startUs, cmd.endUs),
    ...Array.from({ length: cmd.concurrency }, lane),
  ]);
  return { ...cpu, opened, failed, firstError, latency: latency.toData() };
}

async function closeAll(timeoutMs: number): Promise<CloseAllResult> {
  const started = Date.now();
  const all = [...clients];
  for (const { ws } of all) ws.close(1000);
  while (clients.size > 0 && Date.now() - started < timeoutMs) await sleep(20);
  const terminated = clients.size;
  for (const { ws } of clients) ws.terminate();
  clients.clear();
  return {
    closed: all.length - terminated,
    terminated,
    ms: Date.now() - started,
  };
}

function run(cmd: Command): Promise<unknown> {
  switch (cmd.type) {
    case 'connect':
      return connect(cmd);
    case 'echo':
      return echo(cmd);
    case 'receive':
      return receive(cmd);
    case 'publish':
      return publish(cmd);
    case 'handshake':
      return handshake(cmd);
    case 'closeAll':
      return closeAll(cmd.timeoutMs);
  }
}

const reply = (message: Reply) => process.send?.(message);

process.on('message', (request: Request) => {
  run(request).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (err: unknown) =>
      reply({
        id: request.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      }),
  );
});

// The orchestrator is gone (or asked us to go): nothing of this process may outlive it.
process.on('disconnect', () => {
  for (const { ws } of clients) ws.terminate();
  process.exit(0);
});
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies Reply);
