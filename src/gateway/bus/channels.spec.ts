import { ROOM_NAME_PATTERN } from '../rooms/room-name.js';
import {
  BROADCAST_CHANNEL,
  instanceChannel,
  redisChannel,
  roomChannel,
} from './channels.js';

type Kind = 'broadcast' | 'room' | 'instance';

/** The Redis channel of one (prefix, kind, name) triple; a broadcast has no name. */
function channelOf(prefix: string, kind: Kind, name = ''): string {
  const channel =
    kind === 'broadcast'
      ? BROADCAST_CHANNEL
      : kind === 'room'
        ? roomChannel(name)
        : instanceChannel(name);
  return redisChannel(prefix, channel);
}

/** Every concatenation of `min` to `max` of the pieces. */
function words(pieces: readonly string[], min: number, max: number): string[] {
  let level = [''];
  const all = min === 0 ? [''] : [];
  for (let length = 1; length <= max; length++) {
    level = level.flatMap((w) => pieces.map((p) => w + p));
    if (length >= min) all.push(...level);
  }
  return all;
}

describe('Redis channel names', () => {
  it('are <prefix>|<channel>, the prefix first', () => {
    expect(channelOf('gateway:', 'broadcast')).toBe('gateway:|broadcast');
    expect(channelOf('gateway:', 'room', 'lobby')).toBe('gateway:|room:lobby');
    expect(channelOf('gateway:', 'instance', 'ab12cd34')).toBe(
      'gateway:|instance:ab12cd34',
    );
    expect(channelOf('', 'room', 'lobby')).toBe('|room:lobby');
  });

  it('keep apart the two deployments of the report, P: and P:room:', () => {
    // A P: client publishing to room "broadcast" reached every client of P:room:.
    expect(channelOf('P:', 'room', 'broadcast')).not.toBe(
      channelOf('P:room:', 'broadcast'),
    );
    // A P: client in room "room:lobby" received P:room:'s "lobby".
    expect(channelOf('P:', 'room', 'room:lobby')).not.toBe(
      channelOf('P:room:', 'room', 'lobby'),
    );
    // A P: client in room "instance:<id>" would receive P:room:'s direct messages.
    expect(channelOf('P:', 'room', 'instance:ab12cd34')).not.toBe(
      channelOf('P:room:', 'instance', 'ab12cd34'),
    );
  });

  it('never give two distinct (prefix, kind, name) triples one channel', () => {
    // Prefixes and names made of the pieces channel names are made of: every way one
    // triple's prefix could swallow the start of another's channel is among them.
    const pieces = ['P', ':', 'room', 'instance', 'broadcast', 'x'];
    const prefixes = words(pieces, 0, 3);
    const names = words(pieces, 1, 3).filter((n) => ROOM_NAME_PATTERN.test(n));
    const owner = new Map<string, string>();
    let triples = 0;
    const add = (prefix: string, kind: Kind, name?: string) => {
      const triple = JSON.stringify([prefix, kind, name ?? null]);
      const channel = channelOf(prefix, kind, name);
      const other = owner.get(channel);
      if (other !== undefined)
        throw new Error(`${triple} and ${other} share ${channel}`);
      owner.set(channel, triple);
      triples++;
    };
    for (const prefix of prefixes) {
      add(prefix, 'broadcast');
      for (const name of names) {
        add(prefix, 'room', name);
        add(prefix, 'instance', name);
      }
    }
    expect(owner.size).toBe(triples);
    expect(triples).toBeGreaterThan(100_000);
  });
});
