import { WebSocket, type ClientOptions } from 'ws';

/** How a test client presents its token. */
export type TokenPlacement = 'bearer' | 'bare' | 'query';

export interface ConnectOptions {
  token?: string;
  via?: TokenPlacement;
  headers?: Record<string, string>;
  wsOptions?: ClientOptions;
}

export interface Closed {
  code: number;
  reason: string;
}

/** A frame as parsed JSON, for envelope assertions. */
export interface Frame {
  event: string;
  data?: unknown;
  id?: string | number;
}

const DEFAULT_WAIT_MS = 5_000;

/**
 * A real `ws` client that queues every frame it receives, so a test awaits the next frame
 * instead of sleeping. Every wait has a deadline and fails with what it was waiting for.
 */
export class TestClient {
  private readonly frames: string[] = [];
  private readonly waiters: Array<(frame: string) => void> = [];
  readonly closed: Promise<Closed>;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      const frame = isBinary
        ? `<binary ${(data as Buffer).length}>`
        : (data as Buffer).toString();
      const waiter = this.waiters.shift();
      if (waiter) waiter(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) =>
        resolve({ code, reason: reason.toString() }),
      );
    });
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.frames.length;
  }

  send(text: string | Buffer): void {
    this.socket.send(text);
  }

  sendJson(value: unknown): void {
    this.socket.send(JSON.stringify(value));
  }

  /** The next frame's text. */
  next(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    const queued = this.frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) this.waiters.splice(index, 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (frame: string) => {
        clearTimeout(timer);
        resolve(frame);
      };
      this.waiters.push(waiter);
    });
  }

  async nextJson(timeoutMs?: number): Promise<Frame> {
    return JSON.parse(await this.next(timeoutMs)) as Frame;
  }

  /** Sends an envelope and returns the next frame (the reply, when nothing else is in flight). */
  async request(
    event: string,
    data?: unknown,
    id?: string | number,
  ): Promise<Frame> {
    this.sendJson(id === undefined ? { event, data } : { event, data, id });
    return this.nextJson();
  }

  /** Resolves when no frame arrives for `ms` milliseconds; fails with the frame otherwise. */
  async expectSilence(ms = 300): Promise<void> {
    const frame = await this.next(ms).catch(() => undefined);
    if (frame !== undefined) throw new Error(`expected no frame, got ${frame}`);
  }

  close(code?: number): Promise<Closed> {
    if (
      this.socket.readyState === WebSocket.OPEN ||
      this.socket.readyState === WebSocket.CONNECTING
    ) {
      this.socket.close(code);
    }
    return this.closed;
  }
}

function target(
  url: string,
  options: ConnectOptions,
): { url: string; headers: Record<string, string> } {
  const headers = { ...options.headers };
  if (options.token === undefined) return { url, headers };
  switch (options.via ?? 'bearer') {
    case 'bearer':
      headers.Authorization = `Bearer ${options.token}`;
      return { url, headers };
    case 'bare':
      headers.Authorization = options.token;
      return { url, headers };
    case 'query': {
      const u = new URL(url);
      u.searchParams.set('token', options.token);
      return { url: u.toString(), headers };
    }
  }
}

/** Opens a connection; rejects with the HTTP status when the handshake is refused. */
export function connect(
  url: string,
  options: ConnectOptions = {},
): Promise<TestClient> {
  const t = target(url, options);
  const socket = new WebSocket(t.url, {
    headers: t.headers,
    ...options.wsOptions,
  });
  const client = new TestClient(socket);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (_req, res) => {
      reject(new HandshakeRefused(res.statusCode ?? 0, res.headers));
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

/** A refused handshake: the status and headers the server answered with. */
export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
  ) {
    super(`handshake refused with HTTP ${status}`);
  }
}

/** The HTTP status a handshake gets (101 when accepted, the connection then closed). */
export async function handshakeStatus(
  url: string,
  options: ConnectOptions = {},
): Promise<HandshakeRefused | 101> {
  try {
    const client = await connect(url, options);
    await client.close();
    return 101;
  } catch (err) {
    if (err instanceof HandshakeRefused) return err;
    throw err;
  }
}
