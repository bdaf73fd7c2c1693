import { createHash, randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';

/**
 * A WebSocket client over a bare TCP socket, for protocol abuse: it does the HTTP upgrade by
 * hand and writes frames built byte by byte (wrong bits, lying lengths, no mask, invalid UTF-8),
 * so a test can send what no well-behaved client library would, and see exactly what the server
 * answers (the HTTP status of a refused upgrade, the close code, or a dropped TCP connection).
 *
 * No dependency beyond `node:net` and `node:crypto`.
 */

/** RFC 6455 opcodes; any other 4-bit value is reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** A frame to encode. Every field has the value a correct client would use by default. */
export interface FrameSpec {
  /** The 4-bit opcode (see {@link Opcode}); reserved values are encoded as given. */
  opcode: number;
  /** Final fragment. Default true. */
  fin?: boolean;
  /** Reserved bits; default clear (no extension is ever negotiated here). */
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Mask the payload, as RFC 6455 requires of every client frame. Default true. */
  masked?: boolean;
  /** The masking key; default 4 random bytes. */
  maskKey?: Buffer;
  /** The bytes actually written after the header (a string is UTF-8 encoded). Default empty. */
  payload?: Buffer | string;
  /**
   * The length written in the header, when it must lie about the payload (longer than what is
   * sent: a frame whose rest never comes). Default: the payload's length.
   */
  declaredLength?: number | bigint;
  /**
   * How the length is encoded: 7 bits, 7+16, or 7+64. Default the shortest that fits, which is
   * what RFC 6455 requires; forcing a longer one makes a non-minimal encoding.
   */
  lengthBits?: 7 | 16 | 64;
}

/** Encodes one frame, correct or deliberately wrong, as {@link FrameSpec} describes. */
export function frame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : (spec.payload ?? Buffer.alloc(0));
  const length = BigInt(spec.declaredLength ?? payload.length);
  const bits =
    spec.lengthBits ?? (length < 126n ? 7 : length < 65_536n ? 16 : 64);
  const masked = spec.masked ?? true;
  const head: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      (spec.opcode & 0x0f),
  ];
  const maskBit = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (bits === 7) {
    head.push(maskBit | Number(length & 0x7fn));
  } else if (bits === 16) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(Number(length & 0xffffn));
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(length);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), extended, payload]);
  const key = spec.maskKey ?? randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

/** A frame the server sent, as parsed. */
export interface ServerFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  /** Servers must not mask; true would be the server's own protocol error. */
  masked: boolean;
  payload: Buffer;
  /** The payload as UTF-8, for text frames. */
  text?: string;
  /** For a close frame with a body: its status code and reason. */
  code?: number;
  reason?: string;
}

/**
 * How a connection ended from the client's side: the close code of the server's close frame,
 * or, when the TCP connection ended without one, `'end'` (FIN) or `'reset'` (RST, or any socket
 * error).
 */
export type RawClosed = number | 'end' | 'reset';

/** How the TCP connection itself ended. */
export type TcpEnd = 'end' | 'reset';

/** The HTTP answer to an upgrade request. */
export interface HttpAnswer {
  status: number;
  /** `HTTP/1.1 403 Forbidden` */
  statusLine: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Whatever followed the header block (the error body, or the first frames after a 101). */
  rest: Buffer;
}

export interface RawConnectOptions {
  /** Sent as `Authorization: Bearer <token>`; omitted when undefined. */
  token?: string;
  /** Extra request headers (`Origin`, ...); they may override the defaults. */
  headers?: Record<string, string>;
  /** Send only this many bytes of the request (a slowloris client); default all. */
  requestBytes?: number;
  /** Give up on the HTTP answer after this long. Default 5 s. */
  timeoutMs?: number;
  /**
   * Keep the client's side of TCP open after the server's FIN (a peer that never sends its own,
   * such as a client on a network that went away); {@link RawWsClient.end} sends it.
   */
  halfOpen?: boolean;
}

export interface RawClientOptions {
  /**
   * Never read from the socket once upgraded (a peer that does not read): the kernel buffers
   * fill and the server's writes back up. {@link RawWsClient.resume} reads again.
   */
  paused?: boolean;
  /** Answer every ping with a pong, as a correct peer does. Default false: ignore pings. */
  autoPong?: boolean;
  /** Answer the server's close frame with the same code, completing the closing handshake. Default true. */
  replyToClose?: boolean;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFAULT_WAIT_MS = 5_000;

/** The result of an upgrade attempt: the answer, and a client when it was 101. */
export interface RawHandshake {
  answer: HttpAnswer;
  /** Set when the server switched protocols. */
  client?: RawWsClient;
  /** The socket, for a test that wants to reset or inspect it. */
  socket: Socket;
  /** How the TCP connection ended (for a refused upgrade: the server closing it). */
  ended: Promise<TcpEnd>;
}

/** An upgrade the server refused: its HTTP answer. */
export class RawHandshakeRefused extends Error {
  constructor(readonly answer: HttpAnswer) {
    super(`upgrade refused: ${answer.statusLine}`);
  }
}

function watchEnd(socket: Socket): Promise<TcpEnd> {
  return new Promise((resolve) => {
    let how: TcpEnd = 'end';
    socket.on('error', () => {
      how = 'reset';
    });
    socket.once('close', (hadError) => resolve(hadError ? 'reset' : how));
  });
}

/** The bytes of an upgrade request for a `ws://` URL, and the key it carries. */
export function upgradeRequest(
  url: string,
  options: Pick<RawConnectOptions, 'token' | 'headers'> = {},
): { request: Buffer; key: string } {
  const target = new URL(url);
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    Host: target.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...(options.token === undefined
      ? {}
      : { Authorization: `Bearer ${options.token}` }),
    ...options.headers,
  };
  const request = Buffer.from(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n',
  );
  return { request, key };
}

/**
 * Opens a TCP connection to a `ws://` URL and sends an upgrade request by hand (all of it, or
 * its first `requestBytes` bytes), then waits for the HTTP answer. A 101 comes with a
 * {@link RawWsClient}; anything else with the status line and headers.
 */
export async function rawHandshake(
  url: string,
  options: RawConnectOptions & RawClientOptions = {},
): Promise<RawHandshake> {
  const target = new URL(url);
  const { request, key } = upgradeRequest(url, options);
  const socket = tcpConnect({
    host: target.hostname,
    port: Number(target.port),
    allowHalfOpen: options.halfOpen ?? false,
  });
  socket.setNoDelay(true);
  const ended = watchEnd(socket);
  const answer = await new Promise<HttpAnswer>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new Error('no HTTP answer to the upgrade request in time')),
      options.timeoutMs ?? DEFAULT_WAIT_MS,
    );
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const parse = (final: boolean): boolean => {
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return false;
      const [statusLine, ...lines] = received
        .subarray(0, end)
        .toString('latin1')
        .split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0)
          parsed[line.slice(0, colon).trim().toLowerCase()] = line
            .slice(colon + 1)
            .trim();
      }
      const rest = received.subarray(end + 4);
      if (status !== 101) {
        // Wait for the whole body when its length is known (or for the close).
        const length = Number(parsed['content-length'] ?? 0);
        if (!final && rest.length < length) return false;
      }
      cleanup();
      resolve({ status, statusLine, headers: parsed, rest });
      return true;
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      parse(false);
    };
    const onClose = () => {
      if (!parse(true))
        fail(
          new Error(
            `connection closed before an HTTP answer (${received.length} bytes received)`,
          ),
        );
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.once('connect', () =>
      socket.write(
        options.requestBytes === undefined
          ? request
          : request.subarray(0, options.requestBytes),
      ),
    );
  });
  if (answer.status !== 101) return { answer, socket, ended };
  const expected = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  if (answer.headers['sec-websocket-accept'] !== expected) {
    socket.destroy();
    throw new Error('101 with a wrong Sec-WebSocket-Accept');
  }
  return {
    answer,
    socket,
    ended,
    client: new RawWsClient(socket, answer.rest, ended, options),
  };
}

/**
 * One upgraded connection, frames in both directions by hand. Incoming frames are queued for
 * {@link nextFrame}; {@link closed} settles on the server's close frame, or when TCP ends
 * without one. Nothing is sent that the test did not ask for, except the reply to a close frame
 * (`replyToClose`) and pongs when `autoPong` is set. Write errors never throw: they show up as
 * a `'reset'` end.
 */
export class RawWsClient {
  /** The close code the server sent, or how TCP ended without one. */
  readonly closed: Promise<RawClosed>;
  /** How the TCP connection ended. */
  readonly ended: Promise<TcpEnd>;
  /** The server's close frame, once received. */
  closeFrame?: ServerFrame;
  /** Pings received so far (answered or not). */
  pingsReceived = 0;
  /** Bytes written so far (frames, not the upgrade request). */
  bytesWritten = 0;

  private buffer: Buffer;
  private readonly frames: ServerFrame[] = [];
  private readonly waiters: Array<{
    resolve: (f: ServerFrame) => void;
    reject: (e: Error) => void;
  }> = [];
  private tcpEnd?: TcpEnd;
  private settleClosed!: (value: RawClosed) => void;
  private readonly options: RawClientOptions;

  /** Upgrades a connection; rejects with {@link RawHandshakeRefused} on any status but 101. */
  static async connect(
    url: string,
    options: RawConnectOptions & RawClientOptions = {},
  ): Promise<RawWsClient> {
    const { answer, client } = await rawHandshake(url, options);
    if (!client) throw new RawHandshakeRefused(answer);
    return client;
  }

  constructor(
    readonly socket: Socket,
    leftover: Buffer,
    ended: Promise<TcpEnd>,
    options: RawClientOptions = {},
  ) {
    this.options = options;
    this.buffer = leftover;
    this.ended = ended;
    this.closed = new Promise((resolve) => {
      this.settleClosed = resolve;
    });
    void ended.then((how) => {
      this.tcpEnd = how;
      this.settleClosed(how);
      for (const waiter of this.waiters.splice(0))
        waiter.reject(new Error(`the connection ended (${how}) with no frame`));
    });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    if (options.paused) socket.pause();
    this.parse();
  }

  /** Reads again after `paused`: whatever the kernel held arrives, then the end, if any. */
  resume(): void {
    this.socket.resume();
  }

  /** Writes raw bytes (a frame, part of one, or garbage); false once the socket is gone. */
  write(bytes: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.bytesWritten += bytes.length;
    this.socket.write(bytes);
    return true;
  }

  /** Encodes a frame with {@link frame} and writes it. */
  send(spec: FrameSpec): boolean {
    return this.write(frame(spec));
  }

  /** A masked text frame (one fragment when `fin` is false). */
  text(payload: string | Buffer, fin = true): boolean {
    return this.send({ opcode: Opcode.TEXT, payload, fin });
  }

  /** A masked binary frame. */
  binary(payload: Buffer): boolean {
    return this.send({ opcode: Opcode.BINARY, payload });
  }

  /** A masked ping. */
  ping(payload: string | Buffer = ''): boolean {
    return this.send({ opcode: Opcode.PING, payload });
  }

  /** A masked pong. */
  pong(payload: string | Buffer = ''): boolean {
    return this.send({ opcode: Opcode.PONG, payload });
  }

  /** A masked close frame (no body when `code` is undefined). */
  close(code?: number, reason = ''): boolean {
    if (code === undefined) return this.send({ opcode: Opcode.CLOSE });
    const body = Buffer.alloc(2 + Buffer.byteLength(reason));
    body.writeUInt16BE(code);
    body.write(reason, 2);
    return this.send({ opcode: Opcode.CLOSE, payload: body });
  }

  /** Sends the client's FIN (its side of TCP is done; it still reads). */
  end(): void {
    this.socket.end();
  }

  /** Sends an envelope as one text frame. */
  sendJson(value: unknown): boolean {
    return this.text(JSON.stringify(value));
  }

  /** The next frame the server sent; rejects after `timeoutMs` or when TCP ends first. */
  nextFrame(timeoutMs = DEFAULT_WAIT_MS): Promise<ServerFrame> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.tcpEnd)
      return Promise.reject(
        new Error(`the connection ended (${this.tcpEnd}) with no frame`),
      );
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next frame that is not a ping or pong. */
  async nextDataFrame(timeoutMs = DEFAULT_WAIT_MS): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.nextFrame(Math.max(1, deadline - Date.now()));
      if (f.opcode !== Opcode.PING && f.opcode !== Opcode.PONG) return f;
    }
  }

  /** The next text frame parsed as JSON (pings and pongs skipped). */
  async nextJson(timeoutMs?: number): Promise<Record<string, unknown>> {
    const f = await this.nextDataFrame(timeoutMs);
    if (f.opcode !== Opcode.TEXT)
      throw new Error(`expected a text frame, got opcode ${f.opcode}`);
    return JSON.parse(f.text!) as Record<string, unknown>;
  }

  /** Sends an envelope and awaits the next JSON frame (its reply, when nothing else is in flight). */
  async request(
    event: string,
    data: unknown,
    id: string | number,
  ): Promise<Record<string, unknown>> {
    this.sendJson({ event, data, id });
    return this.nextJson();
  }

  /** Ends the TCP connection with a RST, whatever is in flight. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Destroys the socket (FIN, or RST if unread data remains). */
  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      const f = this.takeFrame();
      if (!f) return;
      this.onFrame(f);
    }
  }

  private takeFrame(): ServerFrame | undefined {
    const buf = this.buffer;
    if (buf.length < 2) return undefined;
    const masked = (buf[1] & 0x80) !== 0;
    let length = buf[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buf.length < 4) return undefined;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return undefined;
      length = Number(buf.readBigUInt64BE(2));
      offset = 10;
    }
    const key = masked ? buf.subarray(offset, offset + 4) : undefined;
    if (masked) offset += 4;
    if (buf.length < offset + length) return undefined;
    const payload = Buffer.from(buf.subarray(offset, offset + length));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    this.buffer = buf.subarray(offset + length);
    const opcode = buf[0] & 0x0f;
    const f: ServerFrame = {
      fin: (buf[0] & 0x80) !== 0,
      rsv1: (buf[0] & 0x40) !== 0,
      rsv2: (buf[0] & 0x20) !== 0,
      rsv3: (buf[0] & 0x10) !== 0,
      opcode,
      masked,
      payload,
    };
    if (opcode === Opcode.TEXT) f.text = payload.toString('utf8');
    if (opcode === Opcode.CLOSE && payload.length >= 2) {
      f.code = payload.readUInt16BE(0);
      f.reason = payload.subarray(2).toString('utf8');
    }
    return f;
  }

  private onFrame(f: ServerFrame): void {
    if (f.opcode === Opcode.PING) {
      this.pingsReceived++;
      if (this.options.autoPong) this.pong(f.payload);
    }
    if (f.opcode === Opcode.CLOSE && !this.closeFrame) {
      this.closeFrame = f;
      // 1005: a close frame without a status code.
      this.settleClosed(f.code ?? 1005);
      if (this.options.replyToClose ?? true) {
        this.close(f.code);
        this.socket.end();
      }
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(f);
    else this.frames.push(f);
  }
}
