import type { Envelope, ErrorBody } from './types';

export type SocketState = 'connecting' | 'open' | 'closed';

export interface SocketStatus {
  state: SocketState;
  /** When closed: ms until the next attempt, counted from `since`. */
  retryInMs?: number;
  since: number;
}

export class FrameError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

type Listener = (data: unknown) => void;

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;

export function consoleSocketUrl(loc: Location = location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/console/ws`;
}

/**
 * The console's WebSocket, reopened with backoff for as long as the page is logged in.
 * A refused handshake looks like any other drop to a browser (the 401 is not visible), so before
 * each reconnect `stillLoggedIn` asks the HTTP API, whose 401 sends the page back to the login.
 */
export class ConsoleSocket {
  private ws: WebSocket | undefined;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: number }
  >();
  private readonly listeners = new Map<string, Set<Listener>>();
  private backoffMs = MIN_BACKOFF_MS;
  private retryTimer: number | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly onStatus: (status: SocketStatus) => void,
    private readonly stillLoggedIn: () => Promise<boolean>,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.failPending(new FrameError('CLOSED', 'The console connection closed'));
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'logout');
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  on(event: string, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Sends a request with an id; settles with its reply, or fails with its error frame. */
  request(event: string, data?: unknown): Promise<unknown> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new FrameError('CLOSED', 'The console connection is not open'),
      );
    }
    const id = this.nextId++;
    const frame: Envelope =
      data === undefined ? { event, id } : { event, data, id };
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new FrameError('TIMEOUT', `No answer to ${event}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify(frame));
    });
  }

  private open(): void {
    this.onStatus({ state: 'connecting', since: Date.now() });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws === ws) this.onStatus({ state: 'open', since: Date.now() });
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws && typeof ev.data === 'string') this.receive(ev.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.failPending(
        new FrameError('CLOSED', 'The console connection closed'),
      );
      if (!this.stopped) this.scheduleReconnect();
    };
  }

  private receive(text: string): void {
    let frame: Envelope;
    try {
      frame = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (!frame || typeof frame.event !== 'string') return;
    // The backoff starts over only once the server has said hello: a socket that opens and is
    // closed straight away must not be retried every second for ever.
    if (frame.event === 'hello') this.backoffMs = MIN_BACKOFF_MS;
    if (frame.id !== undefined && frame.id !== null) {
      const waiting = this.pending.get(Number(frame.id));
      if (waiting) {
        this.pending.delete(Number(frame.id));
        clearTimeout(waiting.timer);
        if (frame.event === 'error') {
          const body = (frame.data ?? {}) as Partial<ErrorBody>;
          waiting.reject(
            new FrameError(
              body.code ?? 'ERROR',
              body.message ?? 'The request failed',
            ),
          );
        } else {
          waiting.resolve(frame.data);
        }
        return;
      }
    }
    for (const listener of this.listeners.get(frame.event) ?? [])
      listener(frame.data);
  }

  private scheduleReconnect(): void {
    // Up to a fifth less than the step, so that consoles dropped together do not come back in step.
    const delay = Math.max(
      MIN_BACKOFF_MS,
      Math.round(this.backoffMs * (0.8 + Math.random() * 0.2)),
    );
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2);
    this.onStatus({ state: 'closed', retryInMs: delay, since: Date.now() });
    clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      // A failed check (the gateway is down) is no reason to stop trying.
      this.stillLoggedIn().then(
        (ok) => {
          if (ok && !this.stopped) this.open();
        },
        () => {
          if (!this.stopped) this.open();
        },
      );
    }, delay);
  }

  private failPending(err: Error): void {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(err);
    }
    this.pending.clear();
  }
}
