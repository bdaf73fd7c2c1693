import type { Principal } from '../auth/principal.js';

/**
 * What a principal asks to do with a room: `join` (and so receive its messages), `publish` to
 * it, and, for handlers of your own, `presence` (who is in it) and `history` (its past messages).
 */
export type RoomAction = 'join' | 'publish' | 'presence' | 'history';

/** Every {@link RoomAction}. */
export const ROOM_ACTIONS: readonly RoomAction[] = Object.freeze([
  'join',
  'publish',
  'presence',
  'history',
]);

/**
 * Decides which principal may do what with which room. The standard `join` and `publish` events
 * ask it before acting, with the sending connection's principal and a valid room name; `false`
 * answers the request `FORBIDDEN` and the connection stays open. Server code calling
 * `RoomsService` is not asked: it acts for the server, not for a client.
 *
 * Give your own as the `roomPolicy` option (`forRootAsync` can build it with injected services,
 * to look permissions up in a database). It may answer with a promise; a throw or a rejection is
 * logged and answered `INTERNAL`, never taken as a yes.
 */
export interface RoomPolicy {
  authorize(
    principal: Principal,
    room: string,
    action: RoomAction,
  ): boolean | Promise<boolean>;
}

/** Injection token of the {@link RoomPolicy} in use. */
export const ROOM_POLICY = Symbol('ROOM_POLICY');

/**
 * Every principal may do anything with any room: the policy when neither `roomPolicy` nor
 * `roomAcl` is given, as before room permissions existed.
 */
export const ALLOW_ALL_ROOMS: RoomPolicy = Object.freeze({
  authorize: () => true,
});
