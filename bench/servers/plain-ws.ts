/**
 * The baseline: a minimal `ws` server speaking the gateway's envelope, with no Nest, no logging,
 * no metrics, no limiter. What the gateway is compared with, as "the physical limit" of `ws` on
 * this machine. It does what the benchmark's scenarios ask of the gateway, and at the same cost
 * class where the cost is part of the contract:
 * - the token is checked at the upgrade: `Authorization: Bearer <token>` (or `?token=`), looked up
 *   in a Map by its SHA-256 digest, as the gateway's StaticTokenVerifier does; 401 otherwise;
 * - `echo` answers `{"event":"echo","data":..,"id":..}`;
 * - `broadcast` is serialized once and sent to every other client, then acknowledged;
 * - rooms, the minimum the room scenarios use: `join` (`{"room"}`, answered `{"room"}`) adds the
 *   client to a room, a Map of Sets, until it closes; `publish` (`{"room","data"}`) serializes
 *   `{"event":"message","data":{"room","from","data"}}` once and sends it to every other member,
 *   then answers `{"room","recipients","instances":1}`. No history, no offsets, no validation of
 *   room names, no per-connection room limit;
 * - maxPayload 1 MiB, no compression, as the gateway.
 * `GET /memory` answers `process.memoryUsage()` and the number of open connections, so the
 * benchmark can read the heap after a run; `GET /healthz` answers 200.
 *
 * Environment: PORT (default 8766), HOST (default 127.0.0.1), AUTH_TOKENS (comma-separated).
 */
import { hash } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

const port = Number(process.env.PORT ?? 8766);
const host = process.env.HOST ?? '127.0.0.1';
const tokens = (process.env.AUTH_TOKENS ?? '').split(',').filter(Boolean);
if (tokens.length === 0) {
  process.stderr.write('plain-ws: AUTH_TOKENS is required\n');
  process.exit(1);
}

const digest = (token: string) => hash('sha256', token, 'base64');
const principals = new Map<string, string>(
  tokens.map((token, i) => [digest(token), `token-${i + 1}`]),
);

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function tokenOf(
  authorization: string | undefined,
  url = '/',
): string | undefined {
  if (authorization) return BEARER.exec(authorization.trim())?.[1];
  const q = url.indexOf('?');
  return q === -1
    ? undefined
    : (new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined);
}

function refuse(socket: Duplex, status: number, extra = ''): void {
  const body = STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${body}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
  socket.once('finish', () => socket.destroy());
}

const clients = new Set<WebSocket>();
/** room -> its members; a room goes with its last member. */
const rooms = new Map<string, Set<WebSocket>>();
let sequence = 0;

const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 1024 * 1024,
});

const http = createServer((req, res) => {
  if (req.url === '/memory') {
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({ ...process.memoryUsage(), connections: clients.size }),
    );
  } else if (req.url === '/healthz') {
    res.end('ok');
  } else {
    res.statusCode = 404;
    res.end();
  }
});

http.on('upgrade', (req, socket: Duplex, head: Buffer) => {
  socket.on('error', () => socket.destroy());
  const q = req.url?.indexOf('?') ?? -1;
  const path = q === -1 ? req.url : req.url?.slice(0, q);
  if (path !== '/') return refuse(socket, 404);
  const token = tokenOf(req.headers.authorization, req.url);
  const subject =
    token === undefined ? undefined : principals.get(digest(token));
  if (subject === undefined)
    return refuse(socket, 401, 'WWW-Authenticate: Bearer realm="plain"\r\n');
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, subject));
});

/** The room's name when `data` is `{"room": <non-empty string>, ...}`. */
function roomOf(data: unknown): string | undefined {
  const room = (data as { room?: unknown } | null)?.room;
  return typeof room === 'string' && room.length > 0 ? room : undefined;
}

function onConnection(ws: WebSocket, subject: string): void {
  const id = `${subject}-${++sequence}`;
  /** The rooms this client is in. */
  const joined = new Set<string>();
  clients.add(ws);
  ws.on('error', () => ws.terminate());
  ws.once('close', () => {
    clients.delete(ws);
    for (const room of joined) {
      const members = rooms.get(room);
      if (members?.delete(ws) && members.size === 0) rooms.delete(room);
    }
  });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return ws.close(1003, 'binary frames are not accepted');
    let envelope: { event?: unknown; data?: unknown; id?: unknown };
    try {
      envelope = JSON.parse((data as Buffer).toString()) as typeof envelope;
    } catch {
      return ws.send(
        '{"event":"error","data":{"code":"BAD_REQUEST","message":"malformed JSON"}}',
      );
    }
    switch (envelope.event) {
      case 'echo':
        ws.send(
          JSON.stringify({
            event: 'echo',
            data: envelope.data,
            id: envelope.id,
          }),
        );
        return;
      case 'broadcast': {
        // Serialized once, and turned into bytes once, for every recipient.
        const frame = Buffer.from(
          JSON.stringify({
            event: 'broadcast',
            data: { from: id, data: envelope.data ?? null },
          }),
        );
        let recipients = 0;
        for (const client of clients) {
          if (client !== ws && client.readyState === WebSocket.OPEN) {
            client.send(frame, { binary: false });
            recipients++;
          }
        }
        ws.send(
          JSON.stringify({
            event: 'broadcast',
            data: { recipients, instances: 1 },
            id: envelope.id,
          }),
        );
        return;
      }
      case 'join': {
        const room = roomOf(envelope.data);
        if (room === undefined) break;
        let members = rooms.get(room);
        if (!members) rooms.set(room, (members = new Set()));
        members.add(ws);
        joined.add(room);
        ws.send(
          JSON.stringify({ event: 'join', data: { room }, id: envelope.id }),
        );
        return;
      }
      case 'publish': {
        const room = roomOf(envelope.data);
        if (room === undefined) break;
        // Serialized once, and turned into bytes once, for every member.
        const frame = Buffer.from(
          JSON.stringify({
            event: 'message',
            data: {
              room,
              from: id,
              data: (envelope.data as { data?: unknown }).data ?? null,
            },
          }),
        );
        let recipients = 0;
        for (const member of rooms.get(room) ?? []) {
          if (member !== ws && member.readyState === WebSocket.OPEN) {
            member.send(frame, { binary: false });
            recipients++;
          }
        }
        ws.send(
          JSON.stringify({
            event: 'publish',
            data: { room, recipients, instances: 1 },
            id: envelope.id,
          }),
        );
        return;
      }
      default:
        ws.send(
          JSON.stringify({
            event: 'error',
            data: { code: 'UNKNOWN_EVENT', message: 'unknown event' },
            id: envelope.id,
          }),
        );
        return;
    }
    // join or publish without a room
    ws.send(
      JSON.stringify({
        event: 'error',
        data: { code: 'BAD_REQUEST', message: 'room: must be a string' },
        id: envelope.id,
      }),
    );
  });
}

http.listen(port, host, () => {
  process.stdout.write(`plain-ws listening on ${host}:${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const client of clients) client.terminate();
    http.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
