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
  FillCommand,
  FillResult,
  HandshakeCommand,
  HandshakeResult,
  JoinCommand,
  JoinLeaveCommand,
  JoinResult,
  PublishCommand,
  PublishLoopCommand,
  PublishLoopResult,
  PublishResult,
  PresenceLoopCommand,
  ReceiveCommand,
  ReceiveResult,
  ReconnectCommand,
  ReconnectResult,
  Reply,
  Request,
  RequestsCommand,
  RequestsResult,
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
          await open(
            cmd.url,
            cmd.tokens?.[i] ?? cmd.token,
            local,
            cmd.handshakeTimeoutMs,
          ),
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
const MESSAGE_PUSH = Buffer.from('{"event":"message","data":{"room"');
const PUBLISH_PREFIX = Buffer.from('{"event":"publish"');
const PRESENCE_PUSH = Buffer.from('{"event":"presence","data":{"room"');
const PRESENCE_REPLY = Buffer.from('{"event":"presence"');
const LEAVE_REPLY = Buffer.from('{"event":"leave"');
const JOIN_REPLY = Buffer.from('{"event":"join"');
const OFFSET_KEY = Buffer.from('"offset":');

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
 * A closed loop on every socket of this worker: each keeps `inFlight` requests outstanding
 * (`frame(id)`), sending the next one as each reply (a frame starting with `replyPrefix`) comes.
 * Latency is measured per request with the clock of this process.
 */
async function closedLoop(
  cmd: {
    inFlight: number;
    startUs: number;
    endUs: number;
    drainMs: number;
  },
  frame: (id: number) => string,
  replyPrefix: Buffer,
): Promise<EchoResult> {
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
      ws.send(frame(id));
    };
    const onMessage = (data: RawData) => {
      const buf = data as Buffer;
      const now = nowUs();
      const id = numberAfter(buf, ID_KEY, true);
      if (!startsWith(buf, replyPrefix)) {
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

/** Closed-loop echo: each connection keeps `inFlight` small `echo` requests outstanding. */
function echo(cmd: EchoCommand): Promise<EchoResult> {
  return closedLoop(
    cmd,
    (id) => `{"event":"echo","data":{"text":"hello","n":${id}},"id":${id}}`,
    ECHO_PREFIX,
  );
}

/** Closed-loop publishing to one room (see PublishLoopCommand). */
function publishLoop(cmd: PublishLoopCommand): Promise<PublishLoopResult> {
  const head = `{"event":"publish","data":{"room":${JSON.stringify(cmd.room)},"data":{"t":`;
  return closedLoop(
    cmd,
    (id) => `${head}${Math.round(nowUs())},"s":${id}}},"id":${id}}`,
    PUBLISH_PREFIX,
  );
}

/** Closed-loop `presence` requests (see PresenceLoopCommand). */
function presenceLoop(cmd: PresenceLoopCommand): Promise<PublishLoopResult> {
  const data = JSON.stringify({
    room: cmd.room,
    ...(cmd.countOnly ? { countOnly: true } : {}),
  });
  return closedLoop(
    cmd,
    (id) => `{"event":"presence","data":${data},"id":${id}}`,
    PRESENCE_REPLY,
  );
}

/** Join, leave, join, ... on every socket of this worker (see JoinLeaveCommand). */
async function joinLeave(cmd: JoinLeaveCommand): Promise<PublishLoopResult> {
  const latency = new Histogram();
  const room = JSON.stringify(cmd.room);
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let outstanding = 0;
  let sending = true;
  const conns = [...clients].map(({ ws }) => {
    let nextId = 0;
    let cycleStart = 0;
    const send = (event: 'join' | 'leave') => {
      outstanding++;
      ws.send(`{"event":"${event}","data":{"room":${room}},"id":${nextId++}}`);
    };
    const startCycle = () => {
      if (!sending || ws.readyState !== WebSocket.OPEN) return;
      cycleStart = nowUs();
      send('join');
    };
    const onMessage = (raw: RawData) => {
      const buf = raw as Buffer;
      outstanding--;
      if (startsWith(buf, JOIN_REPLY)) {
        send('leave'); // always: a socket ends the loop out of the room
        return;
      }
      if (startsWith(buf, LEAVE_REPLY)) {
        const now = nowUs();
        if (now >= cmd.startUs && now < cmd.endUs) {
          completed++;
          latency.record(now - cycleStart);
        }
      } else {
        errors++;
        firstError ??= buf.toString().slice(0, 200);
      }
      startCycle();
    };
    ws.on('message', onMessage);
    return { ws, onMessage, startCycle };
  });
  for (const c of conns) c.startCycle();
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

/**
 * Counts the broadcast pushes (or a room's `message` pushes) every socket of this worker
 * receives, with their latency.
 */
async function receive(cmd: ReceiveCommand): Promise<ReceiveResult> {
  const push =
    cmd.push === 'message'
      ? MESSAGE_PUSH
      : cmd.push === 'presence'
        ? PRESENCE_PUSH
        : BROADCAST_PUSH;
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
      if (!startsWith(buf, push)) {
        other++;
        firstOther ??= buf.toString().slice(0, 200);
        return;
      }
      // Counted by arrival, whenever it was published: what the server delivered in the window.
      if (now < cmd.startUs) return;
      const sentUs = numberAfter(buf, T_KEY, false);
      if (now < cmd.endUs) {
        g.delivered++;
        if (sentUs >= 0) g.latency.record(now - sentUs); // presence diffs carry no time
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

/**
 * One socket broadcasts (or publishes to a room) `{"t":<µs>,"s":<n>}` at a fixed rate, catching
 * up if a tick is late.
 */
async function publish(cmd: PublishCommand): Promise<PublishResult> {
  const first = clients.values().next().value;
  if (!first) throw new Error('no socket to publish from');
  const ws = first.ws;
  let published = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  const ack =
    cmd.room === undefined ? '{"event":"broadcast"' : '{"event":"publish"';
  const head =
    cmd.room === undefined
      ? '{"event":"broadcast","data":{"t":'
      : `{"event":"publish","data":{"room":${JSON.stringify(cmd.room)},"data":{"t":`;
  const tail = cmd.room === undefined ? '}' : '}}';
  const onMessage = (data: RawData) => {
    const text = (data as Buffer).toString();
    if (text.startsWith(ack)) acked++;
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
      `${head}${Math.round(nowUs())},"s":${published}${tail},"id":${published}}`,
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

let nextRequestId = 1;

/**
 * Sends one request and resolves with its reply (`{event, data}`), rejects with an error frame's
 * data, or after `timeoutMs`. Other frames (pushes, other replies) are left to other listeners.
 */
function request(
  ws: WebSocket,
  event: string,
  data: unknown,
  timeoutMs: number,
): Promise<{ event: string; data: unknown }> {
  const id = `r${nextRequestId++}`;
  const tag = Buffer.from(`"id":"${id}"`);
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
    };
    const onMessage = (raw: RawData) => {
      const buf = raw as Buffer;
      if (buf.indexOf(tag) < 0) return;
      const frame = JSON.parse(buf.toString()) as {
        event: string;
        data: unknown;
        id?: unknown;
      };
      if (frame.id !== id) return;
      done();
      if (frame.event === 'error')
        reject(new Error(`${event}: ${JSON.stringify(frame.data)}`));
      else resolve({ event: frame.event, data: frame.data });
    };
    const onClose = () => {
      done();
      reject(new Error(`${event}: the socket closed before the reply`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${event}: no reply in ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('message', onMessage);
    ws.once('close', onClose);
    ws.send(JSON.stringify({ event, data, id }));
  });
}

async function join(cmd: JoinCommand): Promise<JoinResult> {
  const started = Date.now();
  const all = [...clients];
  let next = 0;
  let joined = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < all.length) {
      const { ws } = all[next++];
      try {
        await request(
          ws,
          'join',
          cmd.presence
            ? { room: cmd.room, presence: true }
            : { room: cmd.room },
          cmd.timeoutMs,
        );
        joined++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(cmd.concurrency, all.length) }, lane),
  );
  return { joined, failed, firstError, ms: Date.now() - started };
}

async function fill(cmd: FillCommand): Promise<FillResult> {
  const started = Date.now();
  const total = cmd.rooms.length * cmd.perRoom;
  const heads = cmd.rooms.map(
    (room) =>
      `{"event":"publish","data":{"room":${JSON.stringify(room)},"data":"`,
  );
  /** Message n: its room, and data `"<n>:xxxx…"` of exactly payloadBytes characters. */
  const frameOf = (n: number) => {
    const tag = `${n}:`;
    const data = tag + 'x'.repeat(Math.max(0, cmd.payloadBytes - tag.length));
    return `${heads[n % heads.length]}${data}"},"id":${n}}`;
  };
  let published = 0;
  let acked = 0;
  let errors = 0;
  let firstError: string | undefined;
  const sockets = [...clients].map(({ ws }) => ws);
  if (sockets.length === 0) throw new Error('no socket to publish from');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `fill: ${acked + errors} of ${total} acknowledged after ${cmd.timeoutMs} ms`,
          ),
        ),
      cmd.timeoutMs,
    );
    const send = (ws: WebSocket) => {
      if (published >= total) return;
      ws.send(frameOf(published++));
    };
    for (const ws of sockets) {
      ws.on('message', (raw: RawData) => {
        const buf = raw as Buffer;
        if (startsWith(buf, PUBLISH_PREFIX)) acked++;
        else {
          errors++;
          firstError ??= buf.toString().slice(0, 200);
        }
        if (acked + errors >= total) {
          clearTimeout(timer);
          resolve();
        } else send(ws);
      });
      for (let i = 0; i < cmd.inFlight; i++) send(ws);
    }
  });
  for (const ws of sockets) ws.removeAllListeners('message');
  return {
    published,
    acked,
    errors,
    firstError,
    ms: Date.now() - started,
  };
}

async function requests(cmd: RequestsCommand): Promise<RequestsResult> {
  const first = clients.values().next().value;
  if (!first) throw new Error('no socket to send requests from');
  const replies: RequestsResult['replies'] = [];
  for (const r of cmd.requests)
    replies.push(await request(first.ws, r.event, r.data, cmd.timeoutMs));
  return { replies };
}

interface JoinReplyData {
  room: string;
  offset?: number;
  epoch?: string;
  recovered?: boolean;
}

/** A position from a join reply of a room with history. */
function positionOf(reply: { data: unknown }): {
  offset: number;
  epoch: string;
} {
  const data = reply.data as JoinReplyData;
  if (typeof data.offset !== 'number' || typeof data.epoch !== 'string')
    throw new Error(
      `join reply without a position (does the room keep history?): ${JSON.stringify(data)}`,
    );
  return { offset: data.offset, epoch: data.epoch };
}

/**
 * Opens a socket and recovers: `join` with `since` sent at open; resolves at the join reply,
 * once every one of the `missed` pushes has arrived before it, in offset order.
 */
function reconnectOnce(
  cmd: ReconnectCommand,
  since: { offset: number; epoch: string },
): Promise<{
  ws: WebSocket;
  connectUs: number;
  openUs: number;
  caughtUpUs: number;
  position: { offset: number; epoch: string };
}> {
  return new Promise((resolve, reject) => {
    const connectUs = nowUs();
    let openUs = 0;
    let expected = since.offset + 1;
    const ws = new WebSocket(
      cmd.url,
      clientOptions(cmd.token, undefined, cmd.timeoutMs),
    );
    const fail = (why: string) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(
      () => fail(`not caught up in ${cmd.timeoutMs} ms`),
      cmd.timeoutMs,
    );
    ws.once('open', () => {
      openUs = nowUs();
      ws.send(
        JSON.stringify({
          event: 'join',
          data: { room: cmd.room, since },
          id: 'recover',
        }),
      );
    });
    ws.on('message', (raw: RawData) => {
      const buf = raw as Buffer;
      if (startsWith(buf, MESSAGE_PUSH)) {
        const offset = numberAfter(buf, OFFSET_KEY, true);
        if (offset !== expected)
          return fail(`push of offset ${offset} where ${expected} was due`);
        expected++;
        return;
      }
      const caughtUpUs = nowUs();
      if (!startsWith(buf, JOIN_REPLY))
        return fail(`unexpected frame: ${buf.toString().slice(0, 200)}`);
      const reply = JSON.parse(buf.toString()) as { data: JoinReplyData };
      const got = expected - 1 - since.offset;
      if (reply.data.recovered !== true)
        return fail(`not recovered: ${JSON.stringify(reply.data)}`);
      if (got !== cmd.missed || reply.data.offset !== expected - 1)
        return fail(
          `recovered ${got} of ${cmd.missed} messages before the reply ${JSON.stringify(reply.data)}`,
        );
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      resolve({
        ws,
        connectUs,
        openUs,
        caughtUpUs,
        position: positionOf(reply),
      });
    });
    ws.once('unexpected-response', (_req, res) =>
      fail(`upgrade refused: HTTP ${res.statusCode}`),
    );
    ws.once('error', (err) => fail(err.message));
  });
}

/** Closes a socket and waits until it is closed (terminated after `timeoutMs`). */
async function closeSocket(ws: WebSocket, timeoutMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = new Promise<void>((resolve) => ws.once('close', resolve));
  ws.close(1000);
  const timer = setTimeout(() => ws.terminate(), timeoutMs);
  await closed;
  clearTimeout(timer);
}

/**
 * The missed messages of a reconnect round: `missed` publishes sent at once from `ws`, all
 * acknowledged; resolves with the highest offset acknowledged.
 */
function publishAll(ws: WebSocket, cmd: ReconnectCommand): Promise<number> {
  const head = `{"event":"publish","data":{"room":${JSON.stringify(cmd.room)},"data":{"t":`;
  return new Promise((resolve, reject) => {
    let acked = 0;
    let last = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      if (err) reject(err);
      else resolve(last);
    };
    const onMessage = (raw: RawData) => {
      const buf = raw as Buffer;
      if (!startsWith(buf, PUBLISH_PREFIX))
        return done(
          new Error(`publish refused: ${buf.toString().slice(0, 200)}`),
        );
      last = Math.max(last, numberAfter(buf, OFFSET_KEY, false));
      if (++acked === cmd.missed) done();
    };
    const timer = setTimeout(
      () =>
        done(
          new Error(
            `${acked} of ${cmd.missed} publishes acknowledged in ${cmd.timeoutMs} ms`,
          ),
        ),
      cmd.timeoutMs,
    );
    if (cmd.missed === 0) return done();
    ws.on('message', onMessage);
    for (let s = 0; s < cmd.missed; s++)
      ws.send(`${head}${Math.round(nowUs())},"s":${s}}},"id":${s}}`);
  });
}

/** See ReconnectCommand. */
async function reconnect(cmd: ReconnectCommand): Promise<ReconnectResult> {
  const fromConnect = new Histogram();
  const fromOpen = new Histogram();
  const toOpen = new Histogram();
  const publisher = await open(cmd.url, cmd.token, undefined, cmd.timeoutMs);
  let client: WebSocket | undefined;
  try {
    publisher.on('error', () => undefined);
    positionOf(
      await request(publisher, 'join', { room: cmd.room }, cmd.timeoutMs),
    );
    client = await open(cmd.url, cmd.token, undefined, cmd.timeoutMs);
    client.on('error', () => undefined);
    let position = positionOf(
      await request(client, 'join', { room: cmd.room }, cmd.timeoutMs),
    );
    for (let round = 0; round < cmd.warmupRounds + cmd.rounds; round++) {
      await closeSocket(client, cmd.timeoutMs);
      client = undefined;
      const last = await publishAll(publisher, cmd);
      if (cmd.missed > 0 && last !== position.offset + cmd.missed)
        throw new Error(
          `the last missed message has offset ${last}, not ${position.offset + cmd.missed}: someone else publishes to ${cmd.room}`,
        );
      const r = await reconnectOnce(cmd, position);
      client = r.ws;
      client.on('error', () => undefined);
      position = r.position;
      if (round >= cmd.warmupRounds) {
        fromConnect.record(r.caughtUpUs - r.connectUs);
        fromOpen.record(r.caughtUpUs - r.openUs);
        toOpen.record(r.openUs - r.connectUs);
      }
    }
  } finally {
    await Promise.all(
      [publisher, client]
        .filter((ws): ws is WebSocket => ws !== undefined)
        .map((ws) => closeSocket(ws, 2000)),
    );
  }
  return {
    rounds: cmd.rounds,
    fromConnect: fromConnect.toData(),
    fromOpen: fromOpen.toData(),
    toOpen: toOpen.toData(),
  };
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
    case 'join':
      return join(cmd);
    case 'publishLoop':
      return publishLoop(cmd);
    case 'joinLeave':
      return joinLeave(cmd);
    case 'presenceLoop':
      return presenceLoop(cmd);
    case 'fill':
      return fill(cmd);
    case 'requests':
      return requests(cmd);
    case 'reconnect':
      return reconnect(cmd);
    case 'closeAll':
      return closeAll(cmd.timeoutMs);
  }
}

const reply = (message: Reply) => process.send?.(message);

/** `gc()`, when the fleet started this worker with `--expose-gc`. */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

/**
 * Commands that measure a window. A full collection of this process's heap inside a window holds
 * back every reply it is waiting for, which the window then counts as the server's latency: with
 * the same sequence of commands in every run, it landed in the same round of the same case run
 * after run (the fifth at 100 × 32 in flight). One before each such command, while the window's
 * warm-up has not begun, leaves the heap too small to need another before the window ends.
 */
const MEASURING = new Set<Command['type']>([
  'echo',
  'receive',
  'handshake',
  'publishLoop',
  'joinLeave',
  'presenceLoop',
  'requests',
]);

process.on('message', (request: Request) => {
  if (MEASURING.has(request.type)) collectGarbage?.();
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
