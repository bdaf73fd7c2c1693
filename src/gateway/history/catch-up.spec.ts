import { describe, expect, it } from 'vitest';
import { CatchUp } from './catch-up.js';
import type { StoredMessage } from './history-store.js';

const stored = (...offsets: number[]): StoredMessage[] =>
  offsets.map((offset) => ({ offset, frame: `f${offset}` }));
const live = (offset: number, epoch = 'e1', exceptId?: string) => ({
  offset,
  epoch,
  frame: `f${offset}`,
  exceptId,
});

describe('CatchUp', () => {
  it('sends the recovered messages, then the live ones after them, none twice', () => {
    const catchUp = new CatchUp('c1', 100);
    // Published while the store was read: 6 and 7 are in the read too, 8 and 9 are not.
    for (const offset of [6, 7, 8, 9]) catchUp.add(live(offset));
    expect(
      catchUp.merge({ offset: 7, epoch: 'e1' }, stored(4, 5, 6, 7)),
    ).toEqual(['f4', 'f5', 'f6', 'f7', 'f8', 'f9']);
  });

  it('without recovery sends only what comes after the position', () => {
    const catchUp = new CatchUp('c1', 100);
    for (const offset of [3, 4, 5]) catchUp.add(live(offset));
    expect(catchUp.merge({ offset: 4, epoch: 'e1' }, [])).toEqual(['f5']);
  });

  it('leaves out live messages of another epoch and the connection own ones', () => {
    const catchUp = new CatchUp('c1', 100);
    catchUp.add(live(5, 'e0'));
    catchUp.add(live(6, 'e1', 'c1'));
    catchUp.add(live(7, 'e1', 'c2'));
    expect(catchUp.merge({ offset: 4, epoch: 'e1' }, [])).toEqual(['f7']);
  });

  it('says when more came during the read than it keeps', () => {
    const catchUp = new CatchUp('c1', 2);
    catchUp.add(live(1));
    catchUp.add(live(2));
    expect(catchUp.lost).toBe(false);
    catchUp.add(live(3));
    expect(catchUp.lost).toBe(true);
  });

  it('merges without gap or duplicate whatever part of a concurrent run the read saw', () => {
    // Messages 1..40 are published while a client recovers from offset 10. The read sees the
    // stream up to some offset `top`; the live messages the connection was handed start at
    // some offset `from` (those before went out before it began catching up). Any top >= 10
    // and any from <= top + 1 must give exactly 11..40.
    for (let top = 10; top <= 40; top++) {
      for (let from = 1; from <= top + 1; from++) {
        const catchUp = new CatchUp('c1', 100);
        for (let offset = from; offset <= 40; offset++)
          catchUp.add(live(offset));
        const recovered = stored(
          ...Array.from({ length: top - 10 }, (_, i) => 11 + i),
        );
        const frames = catchUp.merge({ offset: top, epoch: 'e1' }, recovered);
        expect(frames).toEqual(
          Array.from({ length: 30 }, (_, i) => `f${11 + i}`),
        );
      }
    }
  });

  it('after the merge, says whether the sequencer is still behind what it sent, and skips that', () => {
    const catchUp = new CatchUp('c1', 100);
    expect(catchUp.merged).toBe(false);
    // The read answered up to 7; the sequencer had delivered only up to 6.
    catchUp.add(live(6));
    expect(catchUp.merge({ offset: 7, epoch: 'e1' }, stored(5, 6, 7))).toEqual([
      'f5',
      'f6',
      'f7',
    ]);
    expect(catchUp.merged).toBe(true);
    expect(catchUp.ahead({ offset: 6, epoch: 'e1' })).toBe(true);
    expect(catchUp.ahead({ offset: 7, epoch: 'e1' })).toBe(false);
    expect(catchUp.ahead({ offset: 3, epoch: 'e0' })).toBe(false);
    expect(catchUp.ahead(undefined)).toBe(false);
    expect(catchUp.follow(live(6))).toBe('skip');
    expect(catchUp.follow(live(7))).toBe('reached');
    expect(catchUp.follow(live(8))).toBe('send');
    expect(catchUp.follow(live(2, 'e2'))).toBe('send');
  });
});
