import type { Principal } from '../auth/principal.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { RoomAccess } from './room-access.js';
import { ALLOW_ALL_ROOMS, type RoomPolicy } from './room-policy.js';

const alice: Principal = { subject: 'alice', scopes: [] };

const accessWith = (
  answer: (room: string) => boolean | Promise<boolean>,
): RoomAccess => new RoomAccess({ authorize: (_p, room) => answer(room) });

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('RoomAccess', () => {
  it('returns at once, with no promise, when the policy allows synchronously', () => {
    expect(
      new RoomAccess(ALLOW_ALL_ROOMS).check(alice, 'lobby', 'publish'),
    ).toBeUndefined();
  });

  it('throws FORBIDDEN naming the action and room when the policy says false', () => {
    const err = thrownBy(() =>
      accessWith(() => false).check(alice, 'secret', 'publish'),
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({
      code: ErrorCode.FORBIDDEN,
      message: 'not allowed to publish to room "secret"',
    });
    expect(
      thrownBy(() => accessWith(() => false).check(alice, 'x', 'join')),
    ).toMatchObject({ message: 'not allowed to join room "x"' });
  });

  it('waits for an asynchronous policy: resolves on true, rejects FORBIDDEN on false', async () => {
    const access = accessWith(async (room) => room === 'open');
    await expect(access.check(alice, 'open', 'join')).resolves.toBeUndefined();
    await expect(access.check(alice, 'closed', 'join')).rejects.toMatchObject({
      code: ErrorCode.FORBIDDEN,
    });
  });

  it('allows only true: anything else a policy written in JavaScript answers refuses', async () => {
    const loose = new RoomAccess({
      authorize: () => 'yes' as unknown as boolean,
    });
    await expect(
      Promise.resolve(loose.check(alice, 'r', 'join')),
    ).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  });

  it('lets a failing policy’s error through, to be logged and answered INTERNAL', async () => {
    const broken: RoomPolicy = {
      authorize: () => Promise.reject(new Error('db down')),
    };
    await expect(
      new RoomAccess(broken).check(alice, 'r', 'join'),
    ).rejects.toThrow('db down');
  });

  it('passes the principal, room and action to the policy', () => {
    const seen: unknown[] = [];
    const access = new RoomAccess({
      authorize: (...args) => {
        seen.push(args);
        return true;
      },
    });
    expect(access.check(alice, 'lobby', 'history')).toBeUndefined();
    expect(seen).toEqual([[alice, 'lobby', 'history']]);
  });
});
