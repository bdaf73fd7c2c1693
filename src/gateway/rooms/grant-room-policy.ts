import type { Principal } from '../auth/principal.js';
import type { GatewayRoomAclOptions } from '../gateway.options.js';
import { MAX_ROOM_NAME_LENGTH } from './room-name.js';
import {
  ROOM_ACTIONS,
  type RoomAction,
  type RoomPolicy,
} from './room-policy.js';

/** The claim a JWT lists its room grants in, unless `roomAcl.claim` names another. */
export const DEFAULT_ROOM_ACL_CLAIM = 'rooms';

/** The prefix that marks a scope as a room grant: `rooms:join:chat/*`. */
export const ROOM_GRANT_SCOPE_PREFIX = 'rooms:';

/** A grant's room pattern: a room name in which `*` stands for any run of characters. */
const ROOM_PATTERN = new RegExp(`^[\\w.:@/*-]{1,${MAX_ROOM_NAME_LENGTH}}$`);

export const ROOM_GRANT_RULE =
  'must be <action>:<room pattern>, the action one of join, publish, presence, history or *, ' +
  `the pattern 1 to ${MAX_ROOM_NAME_LENGTH} characters of A-Z a-z 0-9 _ - . : @ / and * (any run of characters)`;

/** One permission, parsed: an action (`*`: all of them) on the rooms its pattern matches. */
interface RoomGrant {
  readonly action: RoomAction | '*';
  /** The pattern split at its `*`s: `a*b*c` is `['a', 'b', 'c']`; no `*` is one piece. */
  readonly pieces: readonly string[];
}

const ACTIONS: ReadonlySet<string> = new Set([...ROOM_ACTIONS, '*']);

/** `join:chat/*` as a grant; undefined when it is not one. */
function parseGrant(text: string): RoomGrant | undefined {
  const colon = text.indexOf(':');
  if (colon === -1) return undefined;
  const action = text.slice(0, colon);
  const pattern = text.slice(colon + 1);
  if (!ACTIONS.has(action) || !ROOM_PATTERN.test(pattern)) return undefined;
  return { action: action as RoomGrant['action'], pieces: pattern.split('*') };
}

/** Whether `text` is a grant {@link GrantRoomPolicy} understands (`join:lobby`, `*:team-1/*`). */
export function isRoomGrant(text: unknown): text is string {
  return typeof text === 'string' && parseGrant(text) !== undefined;
}

/**
 * Whether a room matches a pattern split at its `*`s. One pass from left to right, each piece
 * found after the one before, without backtracking: taking the leftmost place of a piece never
 * leaves less room for the rest, so a pattern from a token cannot make this slow.
 */
function matches(pieces: readonly string[], room: string): boolean {
  const first = pieces[0];
  if (pieces.length === 1) return room === first;
  const last = pieces[pieces.length - 1];
  if (
    room.length < first.length + last.length ||
    !room.startsWith(first) ||
    !room.endsWith(last)
  ) {
    return false;
  }
  const end = room.length - last.length;
  let at = first.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i];
    if (piece === '') continue;
    const found = room.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Whether a room name matches a grant's pattern, `*` standing for any run of characters. */
export function matchesRoomPattern(pattern: string, room: string): boolean {
  return matches(pattern.split('*'), room);
}

/** Adds the grants of a claim: a list of grants, or one string of them separated by spaces. */
function addClaimGrants(grants: RoomGrant[], claim: unknown): void {
  const entries =
    typeof claim === 'string'
      ? claim.split(' ')
      : Array.isArray(claim)
        ? (claim as unknown[])
        : [];
  for (const entry of entries) {
    const grant = typeof entry === 'string' ? parseGrant(entry) : undefined;
    if (grant) grants.push(grant);
  }
}

/**
 * The room policy that needs no code (`roomAcl`, `ROOM_ACL=true`): a principal may do what its
 * grants allow, and nothing else. A grant is `<action>:<room pattern>` (`join:chat/*`,
 * `publish:chat/lobby`, `*:team-42/*` for every action), found in:
 * - the principal's scopes, prefixed `rooms:` (`rooms:join:chat/*`): for JWTs, the `scope`, `scp`
 *   and `roles` claims; a verifier of your own sets them directly;
 * - the claim named by `claim` (default `rooms`): a list of grants, or a string of grants
 *   separated by spaces;
 * - `grants`, given to every principal: static tokens carry no scopes, so this is how they get
 *   rooms.
 *
 * Entries that are not grants are ignored, so a token's other scopes and claims do no harm.
 */
export class GrantRoomPolicy implements RoomPolicy {
  private readonly claim: string;
  private readonly common: readonly RoomGrant[];
  /** Each principal's grants, parsed at its first request rather than at every one. */
  private readonly parsed = new WeakMap<Principal, readonly RoomGrant[]>();

  /** Throws a `TypeError` for a common grant that is not one: it would never match. */
  constructor(options: GatewayRoomAclOptions = {}) {
    this.claim = options.claim ?? DEFAULT_ROOM_ACL_CLAIM;
    this.common = (options.grants ?? []).map((text) => {
      const grant = parseGrant(text);
      if (!grant) {
        throw new TypeError(
          `room grant ${JSON.stringify(text)}: ${ROOM_GRANT_RULE}`,
        );
      }
      return grant;
    });
  }

  authorize(principal: Principal, room: string, action: RoomAction): boolean {
    return (
      this.allows(this.common, room, action) ||
      this.allows(this.grantsOf(principal), room, action)
    );
  }

  private allows(
    grants: readonly RoomGrant[],
    room: string,
    action: RoomAction,
  ): boolean {
    for (const grant of grants) {
      if (
        (grant.action === action || grant.action === '*') &&
        matches(grant.pieces, room)
      ) {
        return true;
      }
    }
    return false;
  }

  private grantsOf(principal: Principal): readonly RoomGrant[] {
    let grants = this.parsed.get(principal);
    if (grants) return grants;
    const found: RoomGrant[] = [];
    for (const scope of principal.scopes) {
      if (!scope.startsWith(ROOM_GRANT_SCOPE_PREFIX)) continue;
      const grant = parseGrant(scope.slice(ROOM_GRANT_SCOPE_PREFIX.length));
      if (grant) found.push(grant);
    }
    addClaimGrants(found, principal.claims?.[this.claim]);
    grants = Object.freeze(found);
    this.parsed.set(principal, grants);
    return grants;
  }
}
