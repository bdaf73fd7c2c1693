import type { PresenceMember } from '../../src/protocol/index.js';
import { connect, type Frame, type TestClient } from './ws-client.js';

/** A member as a diff names it: no connection count. */
export type DiffMember = Omit<PresenceMember, 'connections'>;

/** The data of a `presence` push: a diff of a listed room, or the count of a counted one. */
export interface PresencePushData {
  room: string;
  joined?: DiffMember[];
  left?: DiffMember[];
  count?: number;
}

/** A `presence` push as it arrived. */
export interface ReceivedPush {
  /** `Date.now()` on arrival. */
  at: number;
  data: PresencePushData;
}

const DEFAULT_WAIT_MS = 5_000;

/**
 * A raw connection for presence tests: requests are matched to their replies by id, whatever
 * pushes come in between, and every `presence` push is recorded with its arrival time, so that
 * a test can count frames and wait for a member without reading frames in order.
 */
export class PresencePeer {
  /** Every `presence` push received, in order. */
  readonly pushes: ReceivedPush[] = [];
  private nextId = 0;
  private readonly replies = new Map<string, (frame: Frame) => void>();
  private readonly watchers = new Set<() => void>();

  constructor(readonly client: TestClient) {
    client.socket.on('message', (raw, isBinary) => {
      if (isBinary) return;
      const text = (raw as Buffer).toString();
      if (!text.startsWith('{')) return;
      const frame = JSON.parse(text) as Frame;
      if (typeof frame.id === 'string') {
        const reply = this.replies.get(frame.id);
        if (reply) {
          this.replies.delete(frame.id);
          reply(frame);
        }
        return;
      }
      if (frame.event === 'presence') {
        this.pushes.push({
          at: Date.now(),
          data: frame.data as PresencePushData,
        });
        for (const watcher of this.watchers) watcher();
      }
    });
  }

  /** Opens a connection with the token. */
  static async open(url: string, token: string): Promise<PresencePeer> {
    return new PresencePeer(await connect(url, { token }));
  }

  /** Sends a request and resolves with its reply or error frame (matched by id). */
  request(
    event: string,
    data: unknown,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Frame> {
    const id = `p${++this.nextId}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error(`no reply to ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replies.set(id, (frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
      this.client.sendJson({ event, data, id });
    });
  }

  /** The reply's data; fails with the error frame when the request was refused. */
  async call<T = Record<string, unknown>>(
    event: string,
    data: unknown,
    timeoutMs?: number,
  ): Promise<T> {
    const frame = await this.request(event, data, timeoutMs);
    if (frame.event !== event)
      throw new Error(`${event} was answered ${JSON.stringify(frame)}`);
    return frame.data as T;
  }

  /** Resolves once the pushes so far satisfy `condition`; fails after the deadline. */
  waitFor(
    condition: (pushes: readonly ReceivedPush[]) => boolean,
    what: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    if (condition(this.pushes)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watcher = () => {
        if (!condition(this.pushes)) return;
        this.watchers.delete(watcher);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(watcher);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; pushes: ${JSON.stringify(
              this.pushes.map((p) => p.data),
            )}`,
          ),
        );
      }, timeoutMs);
      this.watchers.add(watcher);
    });
  }

  /** Waits for the pushes to reach `count`, then returns the last one. */
  async nextPush(
    count = this.pushes.length + 1,
    timeoutMs?: number,
  ): Promise<PresencePushData> {
    await this.waitFor(
      (pushes) => pushes.length >= count,
      `presence push #${count}`,
      timeoutMs,
    );
    return this.pushes[count - 1].data;
  }

  /** Fails when a `presence` push arrives within `ms`. */
  async expectNoPush(ms: number): Promise<void> {
    const before = this.pushes.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.pushes.length > before)
      throw new Error(
        `expected no presence push, got ${JSON.stringify(
          this.pushes.slice(before).map((p) => p.data),
        )}`,
      );
  }

  close(): Promise<unknown> {
    return this.client.close();
  }
}

/** The ids of the members a list names, sorted. */
export const ids = (members: readonly { id: string }[] | undefined) =>
  (members ?? []).map((m) => m.id).sort();

/**
 * The members a subscriber holds after its join reply's list and the diffs since (applied in
 * order, as a client would), by id.
 */
export function applied(
  initial: readonly { id: string }[],
  pushes: readonly ReceivedPush[],
): string[] {
  const present = new Set(initial.map((m) => m.id));
  for (const { data } of pushes) {
    for (const m of data.left ?? []) present.delete(m.id);
    for (const m of data.joined ?? []) present.add(m.id);
  }
  return [...present].sort();
}
