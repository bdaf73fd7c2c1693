import type { Frame, TestClient } from './ws-client.js';

/** A client's reconnection in milliseconds, never giving up while a test's server is away. */
export const FAST_RECONNECT = {
  initialDelayMs: 20,
  maxDelayMs: 100,
  maxRetries: Infinity,
};

/** How long vi.waitFor waits for pushes to arrive: generous, for a loaded machine. */
export const WAIT = { timeout: 5_000 };

/** A room `message` push as a raw client receives it, `data` being what the test published. */
export interface Pushed {
  room: string;
  from: string;
  data: { seq: number };
  offset: number;
}

/** A position in a room's stream. */
export interface Position {
  offset: number;
  epoch: string;
}

/** What {@link publishMany} learned from the replies. */
export interface Published {
  /** The offset each message got, in the order sent. */
  offsets: number[];
  epoch: string;
}

/**
 * Publishes `count` messages `{seq}` (seq from `firstSeq` on) to `room`, all sent at once
 * (pipelined), and awaits every reply. The client must be in no room: each frame it receives
 * is a reply. Fails on an error reply.
 */
export async function publishMany(
  client: TestClient,
  room: string,
  count: number,
  firstSeq = 0,
): Promise<Published> {
  const tag = `${room}#${firstSeq}`;
  for (let i = 0; i < count; i++) {
    client.sendJson({
      event: 'publish',
      data: { room, data: { seq: firstSeq + i } },
      id: `${tag}/${i}`,
    });
  }
  const offsets = Array.from({ length: count }, () => 0);
  let epoch: string | undefined;
  for (let received = 0; received < count; received++) {
    const reply = await client.nextJson();
    const id = String(reply.id);
    if (reply.event !== 'publish' || !id.startsWith(`${tag}/`))
      throw new Error(`expected a publish reply, got ${JSON.stringify(reply)}`);
    const data = reply.data as { offset: number; epoch: string };
    offsets[Number(id.slice(tag.length + 1))] = data.offset;
    if (epoch !== undefined && epoch !== data.epoch)
      throw new Error(
        `the epoch changed during the burst: ${epoch} then ${data.epoch}`,
      );
    epoch = data.epoch;
  }
  return { offsets, epoch: epoch as string };
}

/** The next `count` frames, which must all be `message` pushes. */
export async function nextMessages(
  client: TestClient,
  count: number,
  timeoutMs?: number,
): Promise<Pushed[]> {
  const pushes: Pushed[] = [];
  while (pushes.length < count) {
    const frame = await client.nextJson(timeoutMs);
    if (frame.event !== 'message' || frame.id !== undefined)
      throw new Error(
        `expected message ${pushes.length + 1} of ${count}, got ${JSON.stringify(frame)}`,
      );
    pushes.push(frame.data as Pushed);
  }
  return pushes;
}

/**
 * Sends a request and collects the frames up to its reply: the pushes that came first, and the
 * reply itself.
 */
export async function requestCollecting(
  client: TestClient,
  event: string,
  data: unknown,
  id: string,
  timeoutMs?: number,
): Promise<{ before: Frame[]; reply: Frame }> {
  client.sendJson({ event, data, id });
  const before: Frame[] = [];
  for (;;) {
    const frame = await client.nextJson(timeoutMs);
    if (frame.id === id) return { before, reply: frame };
    before.push(frame);
  }
}

/**
 * Joins `room` from the position `since` (`{room, since}`), collecting the frames up to the
 * reply as {@link requestCollecting} does: the replayed pushes, and the reply.
 */
export function joinSince(
  client: TestClient,
  room: string,
  since: Position,
  id: string,
  timeoutMs?: number,
): Promise<{ before: Frame[]; reply: Frame }> {
  return requestCollecting(client, 'join', { room, since }, id, timeoutMs);
}

/** The pushes among frames, which must all be `message` pushes. */
export function asMessages(frames: readonly Frame[]): Pushed[] {
  return frames.map((frame) => {
    if (frame.event !== 'message' || frame.id !== undefined)
      throw new Error(`expected a message push, got ${JSON.stringify(frame)}`);
    return frame.data as Pushed;
  });
}

/**
 * Checks that pushes are one run without gap or repeat: offsets `firstOffset, +1, ...` and the
 * published `seq` `firstSeq, +1, ...` (for one publisher), each of `room`.
 */
export function expectRun(
  pushes: readonly Pushed[],
  room: string,
  firstOffset: number,
  firstSeq?: number,
): void {
  const offsets = pushes.map((p) => p.offset);
  const expected = pushes.map((_, i) => firstOffset + i);
  expect(offsets).toEqual(expected);
  if (firstSeq !== undefined)
    expect(pushes.map((p) => p.data.seq)).toEqual(
      pushes.map((_, i) => firstSeq + i),
    );
  expect(new Set(pushes.map((p) => p.room))).toEqual(
    new Set(pushes.length ? [room] : []),
  );
}
