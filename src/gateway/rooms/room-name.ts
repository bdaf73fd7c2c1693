import { GatewayError } from '../../protocol/gateway-error.js';

/** Longest room name accepted. */
export const MAX_ROOM_NAME_LENGTH = 128;

/**
 * Room names: 1 to 128 of `A-Z a-z 0-9 _ - . : @ /`. Narrow on purpose: names become bus
 * channel names and log fields, where spaces, quotes or control characters only cause trouble.
 */
export const ROOM_NAME_PATTERN = /^[\w.:@/-]{1,128}$/;

export const ROOM_NAME_RULE = `must be 1 to ${MAX_ROOM_NAME_LENGTH} characters of A-Z a-z 0-9 _ - . : @ /`;

/** Throws `BAD_REQUEST` for a name that breaks {@link ROOM_NAME_PATTERN}. */
export function assertRoomName(room: unknown): asserts room is string {
  if (typeof room !== 'string' || !ROOM_NAME_PATTERN.test(room)) {
    throw GatewayError.badRequest('invalid room name', [
      { field: 'room', message: ROOM_NAME_RULE },
    ]);
  }
}
