import type { ClientClock } from './clock.js';
import { RequestError, RequestTimeoutError } from './errors.js';
import { RequestTable, type NewRequest } from './request-table.js';

/** Timers that fire only when the test says so. */
class ManualClock implements ClientClock {
  readonly armed = new Map<number, { ms: number; callback: () => void }>();
  private last = 0;

  setTimeout(callback: () => void, ms: number): unknown {
    this.armed.set(++this.last, { ms, callback });
    return this.last;
  }

  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number);
  }

  fireAll(): void {
    const timers = [...this.armed.values()];
    this.armed.clear();
    for (const timer of timers) timer.callback();
  }
}

function setup() {
  const clock = new ManualClock();
  const table = new RequestTable(clock);
  const outcomes = new Map<number, unknown>();
  const add = (over: Partial<NewRequest> = {}) => {
    const id = table.nextId();
    table.add({
      event: 'echo',
      id,
      timeoutMs: 1_000,
      resolve: (data) => outcomes.set(id, { resolved: data }),
      reject: (err) => outcomes.set(id, err),
      sent: true,
      ...over,
    });
    return id;
  };
  return { clock, table, outcomes, add };
}

describe('RequestTable', () => {
  it('hands out increasing ids, never the same twice', () => {
    const { table } = setup();
    expect([table.nextId(), table.nextId(), table.nextId()]).toEqual([1, 2, 3]);
  });

  it('resolves a request with its reply, rejects it with RequestError on an error frame', () => {
    const { table, outcomes, add, clock } = setup();
    const ok = add();
    const refused = add({ event: 'join' });
    expect(table.size).toBe(2);
    table.settle(ok, 'echo', 'hi');
    table.settle(refused, 'error', {
      code: 'FORBIDDEN',
      message: 'not allowed',
    });
    expect(outcomes.get(ok)).toEqual({ resolved: 'hi' });
    const error = outcomes.get(refused) as RequestError;
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: 'FORBIDDEN', event: 'join', id: 2 });
    expect(table.size).toBe(0);
    expect(clock.armed.size).toBe(0);
  });

  it('drops a reply nobody waits for, and one to a request still queued', () => {
    const { table, outcomes, add } = setup();
    table.settle(99, 'echo', 'late');
    const queued = add({ sent: false });
    table.settle(queued, 'echo', 'too early');
    expect(outcomes.size).toBe(0);
    table.markSent(queued);
    table.settle(queued, 'echo', 'now');
    expect(outcomes.get(queued)).toEqual({ resolved: 'now' });
  });

  it('times a request out with RequestTimeoutError, after onTimeout, and drops its late reply', () => {
    const { table, outcomes, add, clock } = setup();
    const order: string[] = [];
    const id = add({
      timeoutMs: 250,
      onTimeout: () => order.push(`onTimeout ${outcomes.has(id)}`),
    });
    expect([...clock.armed.values()][0].ms).toBe(250);
    clock.fireAll();
    expect(order).toEqual(['onTimeout false']);
    const error = outcomes.get(id) as RequestTimeoutError;
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(error).toMatchObject({ event: 'echo', id, timeoutMs: 250 });
    expect(table.size).toBe(0);
    table.settle(id, 'echo', 'late');
    expect(outcomes.get(id)).toBe(error);
  });

  it('caps the timer at the longest setTimeout delay but reports the timeout asked for', () => {
    const { add, clock, outcomes } = setup();
    const id = add({ timeoutMs: 2 ** 40 });
    expect([...clock.armed.values()][0].ms).toBe(2 ** 31 - 1);
    clock.fireAll();
    expect(outcomes.get(id)).toMatchObject({ timeoutMs: 2 ** 40 });
  });

  it('on a drop rejects the requests on the wire and keeps the queued ones', () => {
    const { table, outcomes, add, clock } = setup();
    const sent = add();
    const queued = add({ sent: false });
    const drop = new Error('dropped');
    table.rejectSent(drop);
    expect(outcomes.get(sent)).toBe(drop);
    expect(outcomes.has(queued)).toBe(false);
    expect(table.size).toBe(1);
    expect(clock.armed.size).toBe(1);
  });

  it('rejects every request when closed for good, and clears their timers', () => {
    const { table, outcomes, add, clock } = setup();
    const ids = [add(), add({ sent: false })];
    const closed = new Error('closed');
    table.rejectAll(closed);
    expect(ids.map((id) => outcomes.get(id))).toEqual([closed, closed]);
    expect(table.size).toBe(0);
    expect(clock.armed.size).toBe(0);
  });
});
