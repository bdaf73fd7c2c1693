import { afterEach, describe, expect, it } from 'vitest';
import { SocketPairs } from '../../../test/support/socket-pairs.js';
import { GATEWAY_DEFAULTS } from '../gateway.options.js';
import { ConnectionRegistry } from './connection-registry.js';
import { connectionOf } from './connection.js';
import { ErrorJournal } from './error-journal.js';
import { TrafficStats } from './traffic-stats.js';

describe('ConnectionRegistry, on real sockets', () => {
  const pairs = new SocketPairs();

  afterEach(() => pairs.close());

  /** `count` real clients, each registered with the server's side of its socket. */
  async function registered(count: number) {
    const registry = new ConnectionRegistry(
      'inst',
      new TrafficStats(),
      { ...GATEWAY_DEFAULTS, maxConnectionsPerAddress: 100 },
      new ErrorJournal(),
    );
    const received = new Map<string, string[]>();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const pair = await pairs.open();
      const connection = registry.register(
        pair.socket,
        { subject: `user-${i}`, scopes: [] },
        '127.0.0.1',
      );
      received.set(connection.id, pair.received);
      ids.push(connection.id);
    }
    return { registry, ids, received };
  }

  it('finds every open connection by id after others closed in any order, and none of the closed', async () => {
    const { registry, ids } = await registered(6);
    const gone = [ids[2], ids[5], ids[0]];
    for (const id of gone) registry.unregister(registry.get(id)!);
    const open = ids.filter((id) => !gone.includes(id));
    expect(registry.size).toBe(3);
    for (const id of open) expect(registry.get(id)?.id).toBe(id);
    for (const id of gone) expect(registry.get(id)).toBeUndefined();
    expect(
      [...registry.values()].map((connection) => connection.id).sort(),
    ).toEqual([...open].sort());
    expect(
      registry
        .all()
        .map((connection) => connection.id)
        .sort(),
    ).toEqual([...open].sort());
    expect(registry.byAddress?.count('127.0.0.1')).toBe(3);
  });

  it('counts a connection down once, however often its close is reported', async () => {
    const { registry, ids } = await registered(3);
    const first = registry.get(ids[0])!;
    registry.unregister(first);
    registry.unregister(first);
    expect(registry.size).toBe(2);
    expect(registry.byAddress?.count('127.0.0.1')).toBe(2);
    expect(registry.get(ids[1])?.id).toBe(ids[1]);
    expect(registry.get(ids[2])?.id).toBe(ids[2]);
  });

  it('delivers to the right sockets by id after the connection that was last took a closed one’s place', async () => {
    const { registry, ids, received } = await registered(4);
    // The last registered moves into the first's place.
    registry.unregister(registry.get(ids[0])!);
    expect(registry.sendTo(ids[3], '"to three"')).toBe(true);
    expect(registry.sendTo(ids[0], '"to zero"')).toBe(false);
    expect(registry.sendToEach([ids[1], ids[3]], '"to each"')).toBe(2);
    expect(registry.sendToAll('"to all"', ids[2])).toBe(2);
    await expect
      .poll(() => received.get(ids[3]))
      .toEqual(['"to three"', '"to each"', '"to all"']);
    await expect
      .poll(() => received.get(ids[1]))
      .toEqual(['"to each"', '"to all"']);
    expect(received.get(ids[0])).toEqual([]);
    expect(received.get(ids[2])).toEqual([]);
    expect(connectionOf(registry.get(ids[3])!.socket)?.id).toBe(ids[3]);
  });
});
