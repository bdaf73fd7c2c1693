import type { Principal } from '../auth/principal.js';
import {
  GrantRoomPolicy,
  isRoomGrant,
  matchesRoomPattern,
} from './grant-room-policy.js';
import type { RoomAction } from './room-policy.js';

const principal = (
  scopes: string[] = [],
  claims?: Record<string, unknown>,
): Principal => ({ subject: 'p', scopes, claims });

describe('matchesRoomPattern', () => {
  it.each([
    ['lobby', 'lobby', true],
    ['lobby', 'lobby2', false],
    ['lobby', 'lobb', false],
    ['*', 'anything/at:all', true],
    ['chat/*', 'chat/', true],
    ['chat/*', 'chat/general', true],
    ['chat/*', 'chat/a/b', true],
    ['chat/*', 'chatroom', false],
    ['chat/*', 'x/chat/a', false],
    ['*/news', 'team-1/news', true],
    ['*/news', 'team-1/news/old', false],
    ['team-*/news', 'team-42/news', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['a*a', 'a', false],
    ['a*a', 'aa', true],
    ['ab*ba', 'aba', false],
    ['*b*', 'abc', true],
    ['*b*', 'ac', false],
    ['a**b', 'ab', true],
    ['x*yz*yz', 'xyzyz', true],
    ['x*yz*yz', 'xyz', false],
  ])('%s against %s: %s', (pattern, room, expected) => {
    expect(matchesRoomPattern(pattern, room)).toBe(expected);
  });

  it('takes linear time on patterns made to backtrack', () => {
    const pattern = `${'a*'.repeat(60)}b`;
    const room = 'a'.repeat(128);
    const started = performance.now();
    for (let i = 0; i < 1_000; i++) matchesRoomPattern(pattern, room);
    expect(matchesRoomPattern(pattern, room)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('isRoomGrant', () => {
  it.each([
    'join:lobby',
    'publish:chat/*',
    'presence:team-1/*',
    'history:a',
    '*:*',
    'join:team:42:*',
  ])('accepts %s', (grant) => {
    expect(isRoomGrant(grant)).toBe(true);
  });

  it.each([
    ['no action', 'lobby'],
    ['an unknown action', 'leave:lobby'],
    ['an empty pattern', 'join:'],
    ['a space', 'join:my room'],
    ['a question mark (no other wildcard)', 'join:room?'],
    ['regex syntax', 'join:(a|b)'],
    ['a pattern too long', `join:${'a'.repeat(129)}`],
    ['not a string', 42],
  ])('refuses %s', (_, grant) => {
    expect(isRoomGrant(grant)).toBe(false);
  });
});

describe('GrantRoomPolicy', () => {
  const policy = new GrantRoomPolicy();
  const can = (
    p: Principal,
    room: string,
    action: RoomAction,
    on = policy,
  ): boolean => on.authorize(p, room, action);

  it('allows what the rooms: scopes grant, per action', () => {
    const alice = principal([
      'chat',
      'rooms:join:chat/*',
      'rooms:publish:chat/lobby',
    ]);
    expect(can(alice, 'chat/lobby', 'join')).toBe(true);
    expect(can(alice, 'chat/random', 'join')).toBe(true);
    expect(can(alice, 'chat/lobby', 'publish')).toBe(true);
    expect(can(alice, 'chat/random', 'publish')).toBe(false);
    expect(can(alice, 'admin', 'join')).toBe(false);
    expect(can(alice, 'chat/lobby', 'history')).toBe(false);
  });

  it('reads * as every action, presence and history included', () => {
    const owner = principal(['rooms:*:team-7/*']);
    for (const action of ['join', 'publish', 'presence', 'history'] as const)
      expect(can(owner, 'team-7/plans', action)).toBe(true);
    expect(can(owner, 'team-8/plans', 'join')).toBe(false);
  });

  it('refuses a principal without grants: no scopes, no claim (a static token)', () => {
    expect(can(principal(), 'lobby', 'join')).toBe(false);
    expect(can(principal(), 'lobby', 'publish')).toBe(false);
  });

  it('reads the claim as a list or as a string separated by spaces', () => {
    const listed = principal([], {
      rooms: ['join:news/*', 'publish:news/tips'],
    });
    expect(can(listed, 'news/today', 'join')).toBe(true);
    expect(can(listed, 'news/tips', 'publish')).toBe(true);
    expect(can(listed, 'news/today', 'publish')).toBe(false);
    const spaced = principal([], { rooms: 'join:a publish:b' });
    expect(can(spaced, 'a', 'join')).toBe(true);
    expect(can(spaced, 'b', 'publish')).toBe(true);
    expect(can(spaced, 'b', 'join')).toBe(false);
  });

  it('reads the claim it is told to, and no other', () => {
    const named = new GrantRoomPolicy({ claim: 'https://example.com/rooms' });
    const p = principal([], {
      'https://example.com/rooms': ['join:x'],
      rooms: ['join:y'],
    });
    expect(can(p, 'x', 'join', named)).toBe(true);
    expect(can(p, 'y', 'join', named)).toBe(false);
  });

  it('ignores entries that are not grants, and claims of another shape', () => {
    const p = principal(['rooms:leave:x', 'rooms:join', 'join:x'], {
      rooms: [7, null, 'join:', 'join:ok'],
    });
    expect(can(p, 'x', 'join')).toBe(false);
    expect(can(p, 'ok', 'join')).toBe(true);
    expect(can(principal([], { rooms: { join: 'x' } }), 'x', 'join')).toBe(
      false,
    );
  });

  it('gives the configured grants to every principal, on top of their own', () => {
    const shared = new GrantRoomPolicy({ grants: ['join:public/*'] });
    expect(can(principal(), 'public/hall', 'join', shared)).toBe(true);
    expect(can(principal(), 'public/hall', 'publish', shared)).toBe(false);
    expect(
      can(
        principal(['rooms:publish:public/hall']),
        'public/hall',
        'publish',
        shared,
      ),
    ).toBe(true);
  });

  it('refuses a configured grant that is not one', () => {
    expect(() => new GrantRoomPolicy({ grants: ['join lobby'] })).toThrow(
      TypeError,
    );
  });

  it('answers the same for one principal asked again (its grants are kept)', () => {
    const p = principal(['rooms:join:a']);
    expect(can(p, 'a', 'join')).toBe(true);
    expect(can(p, 'a', 'join')).toBe(true);
    expect(can(p, 'b', 'join')).toBe(false);
  });
});
