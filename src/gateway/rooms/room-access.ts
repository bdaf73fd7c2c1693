import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import {
  ALLOW_ALL_ROOMS,
  ROOM_POLICY,
  type RoomAction,
  type RoomPolicy,
} from './room-policy.js';

const DOING: Record<RoomAction, string> = {
  join: 'join room',
  publish: 'publish to room',
  presence: 'see who is in room',
  history: 'read the history of room',
};

const refusal = (room: string, action: RoomAction) =>
  GatewayError.forbidden(`not allowed to ${DOING[action]} "${room}"`);

/**
 * Asks the {@link RoomPolicy} in use on a client's behalf and turns a refusal into `FORBIDDEN`.
 * The standard `join` and `publish` events use it; inject it in a gateway of your own to guard
 * `presence` or `history` handlers with the same policy.
 */
@Injectable()
export class RoomAccess {
  constructor(@Inject(ROOM_POLICY) private readonly policy: RoomPolicy) {}

  /**
   * Whether no policy was configured (every principal may do anything): actions that reveal
   * who is in a room then default to the room's members.
   */
  get unrestricted(): boolean {
    return this.policy === ALLOW_ALL_ROOMS;
  }

  /**
   * Returns when the principal may, synchronously when the policy answers synchronously, so the
   * default policies add no promise to a publish. Throws (or rejects with) a `FORBIDDEN`
   * {@link GatewayError} when it may not; only `true` allows.
   */
  check(
    principal: Principal,
    room: string,
    action: RoomAction,
  ): void | Promise<void> {
    const verdict = this.policy.authorize(principal, room, action);
    if (verdict === true) return;
    if (verdict === false) throw refusal(room, action);
    return Promise.resolve(verdict).then((allowed) => {
      if (allowed !== true) throw refusal(room, action);
    });
  }
}
