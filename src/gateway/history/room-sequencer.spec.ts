import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoredMessage } from './history-store.js';
import {
  GAP_WAIT_MS,
  RoomSequencer,
  type SequencedMessage,
} from './room-sequencer.js';

const frame = (offset: number) => `f${offset}`;
const msg = (offset: number, epoch = 'e1'): SequencedMessage => ({
  offset,
  epoch,
  frame: frame(offset),
});

/** A sequencer over a store holding `kept` (offset -> stored), recording what it delivers. */
function setup(kept: Map<number, StoredMessage> = new Map(), epoch = 'e1') {
  const delivered: number[] = [];
  const fills: [number, number][] = [];
  let storeUp = true;
  const sequencer = new RoomSequencer(
    {
      deliver: (m) => delivered.push(m.offset),
      fill: (e, after, limit) => {
        fills.push([after, limit]);
        if (!storeUp || e !== epoch) return Promise.resolve(undefined);
        const out: StoredMessage[] = [];
        for (let o = after + 1; out.length < limit && kept.has(o); o++)
          out.push(kept.get(o)!);
        return Promise.resolve(out);
      },
    },
    100,
  );
  return {
    sequencer,
    delivered,
    fills,
    setStoreUp: (up: boolean) => {
      storeUp = up;
    },
  };
}

const keep = (...offsets: number[]) =>
  new Map(offsets.map((o) => [o, { offset: o, frame: frame(o) }]));

describe('RoomSequencer', () => {
  afterEach(() => vi.useRealTimers());

  it('holds everything until started, then delivers in order from the oldest held', () => {
    const { sequencer, delivered } = setup();
    sequencer.accept(msg(7));
    sequencer.accept(msg(5));
    sequencer.accept(msg(6));
    sequencer.accept(msg(4, 'e0'));
    expect(delivered).toEqual([]);
    sequencer.start({ offset: 6, epoch: 'e1' });
    expect(delivered).toEqual([5, 6, 7]);
    expect(sequencer.position).toEqual({ offset: 7, epoch: 'e1' });
  });

  it('starts after the position when nothing older is held', () => {
    const { sequencer, delivered } = setup();
    sequencer.accept(msg(9));
    sequencer.start({ offset: 8, epoch: 'e1' });
    expect(delivered).toEqual([9]);
  });

  it('drops duplicates and delivers messages that overtook each other in offset order', () => {
    const { sequencer, delivered } = setup();
    sequencer.start({ offset: 0, epoch: 'e1' });
    for (const offset of [1, 3, 2, 2, 1, 5, 4, 3, 6])
      sequencer.accept(msg(offset));
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads a gap that stays open from the store, then goes on in order', async () => {
    vi.useFakeTimers();
    const { sequencer, delivered, fills } = setup(keep(2, 3));
    sequencer.start({ offset: 1, epoch: 'e1' });
    sequencer.accept(msg(4));
    sequencer.accept(msg(5));
    expect(delivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS + 1);
    expect(fills).toEqual([[1, 2]]);
    expect(delivered).toEqual([2, 3, 4, 5]);
  });

  it('does not read the store when the missing message arrives in time', async () => {
    vi.useFakeTimers();
    const { sequencer, delivered, fills } = setup(keep(2));
    sequencer.start({ offset: 1, epoch: 'e1' });
    sequencer.accept(msg(3));
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS / 2);
    sequencer.accept(msg(2));
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS * 2);
    expect(fills).toEqual([]);
    expect(delivered).toEqual([2, 3]);
  });

  it('moves on past a gap the store no longer has, so that clients see the jump', async () => {
    vi.useFakeTimers();
    const { sequencer, delivered } = setup(keep());
    sequencer.start({ offset: 1, epoch: 'e1' });
    sequencer.accept(msg(4));
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS + 1);
    expect(delivered).toEqual([4]);
    sequencer.accept(msg(5));
    expect(delivered).toEqual([4, 5]);
  });

  it('moves on past a gap while the store is away', async () => {
    vi.useFakeTimers();
    const { sequencer, delivered, setStoreUp } = setup(keep(2));
    setStoreUp(false);
    sequencer.start({ offset: 1, epoch: 'e1' });
    sequencer.accept(msg(3));
    await vi.advanceTimersByTimeAsync(GAP_WAIT_MS + 1);
    expect(delivered).toEqual([3]);
  });

  it('counts from the start of a new epoch, dropping what it held of the old one', async () => {
    vi.useFakeTimers();
    const { sequencer, delivered } = setup();
    sequencer.start({ offset: 10, epoch: 'e1' });
    sequencer.accept(msg(12));
    sequencer.accept(msg(1, 'e2'));
    sequencer.accept(msg(2, 'e2'));
    expect(delivered).toEqual([1, 2]);
    expect(sequencer.position).toEqual({ offset: 2, epoch: 'e2' });
  });

  it('catches up on what the store has after a bus outage', async () => {
    const { sequencer, delivered } = setup(keep(4, 5, 6));
    sequencer.start({ offset: 3, epoch: 'e1' });
    await sequencer.catchUp();
    expect(delivered).toEqual([4, 5, 6]);
    sequencer.accept(msg(5));
    sequencer.accept(msg(7));
    expect(delivered).toEqual([4, 5, 6, 7]);
  });

  it('holds at most its limit, dropping the oldest', () => {
    const { sequencer, delivered } = setup();
    for (let offset = 1; offset <= 150; offset++) sequencer.accept(msg(offset));
    sequencer.start({ offset: 0, epoch: 'e1' });
    // 1..50 were dropped while unstarted: the gap is left to the store.
    expect(delivered).toEqual([]);
    sequencer.stop();
  });

  it('delivers nothing after stop', () => {
    const { sequencer, delivered } = setup();
    sequencer.start({ offset: 0, epoch: 'e1' });
    sequencer.stop();
    sequencer.accept(msg(1));
    expect(delivered).toEqual([]);
  });
});
