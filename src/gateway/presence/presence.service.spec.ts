import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InMemoryMessageBus } from '../bus/in-memory-message-bus.js';
import { GatewayEvents } from '../connections/gateway-events.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
} from '../gateway.options.js';
import { RecordingDelivery } from '../../../test/support/recording-delivery.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { InMemoryPresenceStore } from './in-memory-presence-store.js';
import { PresenceService } from './presence.service.js';

/** One instance: connections a1 and a2 of alice, b1 of bob, c1 of carol. */
function instance(options: GatewayOptions = {}) {
  const local = new RecordingDelivery();
  local.connect('a1', 'alice');
  local.connect('a2', 'alice');
  local.connect('b1', 'bob');
  local.connect('c1', 'carol');
  const events = new GatewayEvents();
  const resolved = resolveGatewayOptions(options);
  const presence = new PresenceService(
    new InMemoryPresenceStore('i1'),
    local,
    new InMemoryMessageBus(),
    'i1',
    resolved,
    events,
  );
  presence.onModuleInit();
  const join = (id: string, room: string) =>
    events.emit('joined', local.info(id)!, room);
  const leave = (id: string, room: string) =>
    events.emit('left', local.info(id)!, room);
  const pushes = (id: string) =>
    (local.framesOf(id) as { event: string; data: unknown }[])
      .filter((f) => f.event === 'presence')
      .map((f) => f.data);
  return { local, events, presence, join, leave, pushes };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('PresenceService', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('counts a principal once, with its connections, and shows a subscriber itself', async () => {
    const { presence, join, local } = instance();
    join('a1', 'lobby');
    join('a2', 'lobby');
    join('b1', 'lobby');
    const view = await presence.subscribe(local.info('a1')!, 'lobby');
    expect(view.count).toBe(2);
    expect([...view.members!].sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [
        { id: 'alice', info: {}, connections: 2 },
        { id: 'bob', info: {}, connections: 1 },
      ],
    );
    presence.onModuleDestroy();
  });

  it('sends subscribers one diff per tick: first connection joins, last leaves', async () => {
    const { presence, join, leave, local, pushes } = instance({
      presence: { tickMs: 200 },
    });
    join('c1', 'lobby');
    await presence.subscribe(local.info('c1')!, 'lobby');
    join('a1', 'lobby');
    join('a2', 'lobby');
    join('b1', 'lobby');
    await flush();
    await vi.advanceTimersByTimeAsync(200);
    expect(pushes('c1')).toEqual([
      {
        room: 'lobby',
        joined: [
          { id: 'alice', info: {} },
          { id: 'bob', info: {} },
        ],
        left: [],
      },
    ]);
    leave('a1', 'lobby');
    await flush();
    await vi.advanceTimersByTimeAsync(200);
    expect(pushes('c1')).toHaveLength(1);
    leave('a2', 'lobby');
    leave('b1', 'lobby');
    join('b1', 'lobby');
    await flush();
    await vi.advanceTimersByTimeAsync(200);
    expect(pushes('c1')[1]).toEqual({
      room: 'lobby',
      joined: [],
      left: [{ id: 'alice', info: {} }],
    });
    presence.onModuleDestroy();
  });

  it('lets only members ask who is in a room when no policy is configured', async () => {
    const { presence, join, local } = instance();
    join('a1', 'lobby');
    await expect(
      presence.ask(local.info('b1')!, 'lobby', false, true),
    ).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
    expect(await presence.ask(local.info('a1')!, 'lobby', true, true)).toEqual({
      room: 'lobby',
      count: 1,
    });
    // A configured policy has decided already.
    expect(
      await presence.ask(local.info('b1')!, 'lobby', false, false),
    ).toMatchObject({ room: 'lobby', count: 1 });
    presence.onModuleDestroy();
  });

  it('counts a room past maxMembers instead of listing it', async () => {
    const { presence, join, local } = instance({ presence: { maxMembers: 1 } });
    join('a1', 'big');
    join('b1', 'big');
    await flush();
    expect(await presence.subscribe(local.info('c1')!, 'big')).toEqual({
      count: 2,
    });
    presence.onModuleDestroy();
  });

  it('takes info from the configured claims, at most 1 KiB, never more', () => {
    const { presence } = instance({ presence: { infoClaims: ['name'] } });
    expect(
      presence.infoOf({
        subject: 's',
        scopes: [],
        claims: { name: 'Alice', email: 'a@example.com' },
      }),
    ).toEqual({ name: 'Alice' });
    expect(
      presence.infoOf({
        subject: 's',
        scopes: [],
        claims: { name: 'x'.repeat(2_000) },
      }),
    ).toEqual({});
    presence.onModuleDestroy();
  });

  it('does not subscribe a connection that left the room while its subscription was under way', async () => {
    const { presence, join, leave, local, pushes } = instance();
    join('c1', 'lobby');
    const view = presence.subscribe(local.info('c1')!, 'lobby');
    leave('c1', 'lobby');
    await view;
    join('b1', 'lobby');
    await flush();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pushes('c1')).toEqual([]);
    presence.onModuleDestroy();
  });

  it('forgets a subscriber that leaves the room', async () => {
    const { presence, join, leave, local, pushes } = instance();
    join('c1', 'lobby');
    await presence.subscribe(local.info('c1')!, 'lobby');
    leave('c1', 'lobby');
    join('b1', 'lobby');
    await flush();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pushes('c1')).toEqual([]);
    presence.onModuleDestroy();
  });

  it('tracks nothing and answers BAD_REQUEST when presence is turned off', async () => {
    const { presence, join, local } = instance({
      presence: { enabled: false },
    });
    join('a1', 'lobby');
    await flush();
    await expect(presence.view('lobby')).rejects.toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      message: 'presence is turned off on this gateway',
    });
    expect(
      await presence.subscribeForReply(local.info('a1')!, 'lobby'),
    ).toEqual({
      error: {
        code: ErrorCode.BAD_REQUEST,
        message: 'presence is turned off on this gateway',
      },
    });
    presence.onModuleDestroy();
  });
});
