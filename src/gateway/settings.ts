import { DEFAULT_MAX_DEPTH } from '../protocol/envelope.js';
import { CHANNEL_PREFIX_RULE, isChannelPrefix } from './bus/channels.js';
import type { GatewayConsoleOptions } from './console/console-options.js';
import type {
  GatewayAuthOptions,
  GatewayHistoryOptions,
  GatewayOptions,
  GatewayPresenceOptions,
  GatewayRateLimitOptions,
  GatewayRedisOptions,
  GatewayRoomAclOptions,
} from './gateway.options.js';
import { DEFAULT_ROOM_ACL_CLAIM } from './rooms/grant-room-policy.js';

/** The highest `maxDepth` accepted. */
export const MAX_DEPTH_LIMIT = 1_000;

type KeysOfType<T, V> = {
  [K in keyof T]-?: NonNullable<T[K]> extends V ? K & string : never;
}[keyof T];

/** Where an integer setting sits in {@link GatewayOptions}: `maxDepth`, `rateLimit.burst`. */
export type IntOptionPath =
  | KeysOfType<GatewayOptions, number>
  | `rateLimit.${KeysOfType<GatewayRateLimitOptions, number>}`
  | `history.${KeysOfType<GatewayHistoryOptions, number>}`
  | `presence.${KeysOfType<GatewayPresenceOptions, number>}`
  | `console.${KeysOfType<GatewayConsoleOptions, number>}`;

/** Where a boolean setting sits in {@link GatewayOptions}: `perMessageDeflate`, `auth.disabled`. */
export type BooleanOptionPath =
  | KeysOfType<GatewayOptions, boolean>
  | `auth.${KeysOfType<GatewayAuthOptions, boolean>}`
  | `presence.${KeysOfType<GatewayPresenceOptions, boolean>}`;

/**
 * Where a string setting sits in {@link GatewayOptions}: `path`, `redis.channelPrefix`. Not
 * `redis.url`: setting it is what turns Redis on, so it has no default.
 */
export type StringOptionPath =
  | KeysOfType<GatewayOptions, string>
  | `redis.${Exclude<KeysOfType<GatewayRedisOptions, string>, 'url'>}`
  | `roomAcl.${KeysOfType<GatewayRoomAclOptions, string>}`;

/**
 * How the environment variable of an integer setting is checked, where it says more than the
 * option's own check: a unit for the error message, tighter bounds an operator is unlikely to
 * need past (a host application may still pass them as options), and wording of the bounds.
 */
export interface IntEnvironmentRule {
  /** Named when the value is not an integer: "must be an integer number of bytes". */
  readonly unit?: 'bytes' | 'milliseconds';
  /** Lowest value accepted; the setting's `min` when unset. */
  readonly min?: number;
  /** Highest value accepted; the setting's `max` when unset. */
  readonly max?: number;
  /** Instead of "must be at least N", "must not be negative" or "must be between N and M". */
  readonly minMessage?: string;
  /** Instead of "must be between N and M" or "must be at most M". */
  readonly maxMessage?: string;
}

interface SettingBase {
  /** The service's environment variable; none for an option the service does not expose. */
  readonly env?: string;
  /** One line for the environment table of docs/configuration.md. */
  readonly doc: string;
  /** The default as the docs show it, where the value alone would mislead. */
  readonly docDefault?: string;
}

/** A whole number, checked against `min` (0 or 1) and an optional `max`. */
export interface IntSetting extends SettingBase {
  readonly kind: 'int';
  readonly option: IntOptionPath;
  readonly default: number;
  readonly min: 0 | 1;
  readonly max?: number;
  readonly envRule?: IntEnvironmentRule;
}

/** A switch; anything but a boolean counts as unset. */
export interface BooleanSetting extends SettingBase {
  readonly kind: 'boolean';
  readonly option: BooleanOptionPath;
  readonly default: boolean;
}

/** One check of a string setting's environment variable, with the message it fails with. */
export interface StringEnvironmentCheck {
  readonly valid: (value: string) => boolean;
  /** After `<VARIABLE>: `: "must be a URL path starting with "/"". */
  readonly message: string;
}

/**
 * A string. The option's check is looser than the variable's: a host application may pass what
 * an operator is unlikely to need (and the variable's alphabet keeps typos out of the shell).
 */
export interface StringSetting extends SettingBase {
  readonly kind: 'string';
  readonly option: StringOptionPath;
  readonly default: string;
  /**
   * The option object whose presence turns the setting's feature on (`redis`, `roomAcl`); the
   * setting, default included, applies only within it, so the generic loops leave it out and
   * the code resolving that object applies it.
   */
  readonly onlyWith?: 'redis' | 'roomAcl';
  /** Whether an option value can work; given anything, as JavaScript callers may pass anything. */
  readonly check: (value: unknown) => boolean;
  /** Why an option value failing `check` cannot work, after `<option>: `. */
  readonly problem: (value: unknown) => string;
  /** The checks of the environment variable, each reported with its message. */
  readonly envChecks: readonly StringEnvironmentCheck[];
}

/** One setting of {@link GatewayModule}, declared once for the options and the environment. */
export type GatewaySetting = IntSetting | BooleanSetting | StringSetting;

const MiB = 1024 * 1024;

const got = (value: unknown): string => `(got ${JSON.stringify(value)})`;

/**
 * The module's scalar settings, in the order the docs list them and their problems are reported
 * (string settings are checked where `gateway.options.ts` reports them: `path` first, the others
 * with the object that turns them on). Settings that are not one value with a default (tokens,
 * JWT, origins, proxies, the Redis URL, room grants, the seams) are resolved by code in
 * `gateway.options.ts`.
 */
export const GATEWAY_SETTINGS = [
  {
    kind: 'string',
    option: 'path',
    env: 'WS_PATH',
    default: '/',
    check: (value) => typeof value === 'string' && value.startsWith('/'),
    problem: (value) => `must start with "/" ${got(value)}`,
    envChecks: [
      {
        valid: (value) => /^\/[\w\-./~%]*$/.test(value),
        message: 'must be a URL path starting with "/"',
      },
    ],
    doc: 'WebSocket path',
  },
  {
    kind: 'boolean',
    option: 'auth.disabled',
    env: 'AUTH_DISABLED',
    default: false,
    doc: '`true` accepts every handshake without a token (logs a warning)',
  },
  {
    kind: 'int',
    option: 'maxConnections',
    env: 'MAX_CONNECTIONS',
    default: 10_000,
    min: 1,
    doc: 'open connections per instance; past it the handshake gets 503',
  },
  {
    kind: 'int',
    option: 'maxConnectionsPerPrincipal',
    env: 'MAX_CONNECTIONS_PER_PRINCIPAL',
    default: 0,
    min: 0,
    envRule: { minMessage: 'must not be negative (0 turns the cap off)' },
    docDefault: '`0` (off)',
    doc: "open connections per principal (its `subject`: `token-<n>`, a JWT's `sub`) per instance; past it the handshake gets 429. Not applied with `AUTH_DISABLED`",
  },
  {
    kind: 'int',
    option: 'maxConnectionsPerAddress',
    env: 'MAX_CONNECTIONS_PER_ADDRESS',
    default: 0,
    min: 0,
    envRule: { minMessage: 'must not be negative (0 turns the cap off)' },
    docDefault: '`0` (off)',
    doc: 'open connections and handshakes in progress per remote address per instance; past it the handshake gets 429',
  },
  {
    kind: 'int',
    option: 'maxPayloadBytes',
    env: 'WS_MAX_PAYLOAD',
    default: MiB,
    min: 1,
    envRule: {
      unit: 'bytes',
      max: 256 * MiB,
      minMessage: 'must be at least 1 byte',
      maxMessage: 'must be at most 268435456 (256 MiB)',
    },
    doc: "bytes per message; over it, close 1009 (python-websockets' default; `ws`'s own 100 MiB invites memory exhaustion)",
  },
  {
    kind: 'int',
    option: 'maxDepth',
    env: 'WS_MAX_DEPTH',
    default: DEFAULT_MAX_DEPTH,
    min: 1,
    max: MAX_DEPTH_LIMIT,
    doc: 'how deep arrays and objects may nest in a message, the envelope being level 1 (1 to 1000); deeper is `BAD_REQUEST`',
  },
  {
    kind: 'int',
    option: 'maxFragments',
    default: 1024,
    min: 1,
    doc: 'fragments one message may arrive in; more closes the connection with 1008',
  },
  {
    kind: 'int',
    option: 'rateLimit.perSecond',
    env: 'RATE_LIMIT_PER_SEC',
    default: 100,
    min: 1,
    doc: 'messages per second per connection (token bucket)',
  },
  {
    kind: 'int',
    option: 'rateLimit.burst',
    env: 'RATE_LIMIT_BURST',
    default: 200,
    min: 1,
    doc: 'bucket size; also how many refused messages in one second close the connection with 1008',
  },
  {
    kind: 'int',
    option: 'rateLimit.bytesPerSecond',
    env: 'RATE_LIMIT_BYTES_PER_SEC',
    default: MiB,
    min: 1,
    envRule: { unit: 'bytes' },
    doc: "bytes per second per connection, counted from each frame's length before it is parsed",
  },
  {
    // The default grows to maxPayloadBytes when that is larger (gateway.options.ts).
    kind: 'int',
    option: 'rateLimit.bytesBurst',
    env: 'RATE_LIMIT_BYTES_BURST',
    default: 4 * MiB,
    min: 1,
    envRule: { unit: 'bytes' },
    doc: 'bytes that may come at once (at least `WS_MAX_PAYLOAD`); more refused bytes in one second than this close the connection with 1008',
  },
  {
    kind: 'int',
    option: 'rateLimit.fanoutBytesPerSecond',
    env: 'RATE_LIMIT_FANOUT_BYTES_PER_SEC',
    default: 64 * MiB,
    min: 1,
    envRule: { unit: 'bytes' },
    doc: "bytes per second a connection's messages may make this instance send (frame size x recipients); past it, its next messages wait",
  },
  {
    kind: 'int',
    option: 'maxBufferedBytes',
    env: 'MAX_BUFFERED_BYTES',
    default: 4 * MiB,
    min: 1,
    envRule: {
      unit: 'bytes',
      min: 1024,
      minMessage: 'must be at least 1024 bytes',
    },
    doc: "bytes a connection left unread from earlier event-loop turns before it is closed with 1013 (one turn's burst does not count)",
  },
  {
    kind: 'int',
    option: 'heartbeatIntervalMs',
    env: 'WS_HEARTBEAT_MS',
    default: 30_000,
    min: 0,
    envRule: {
      unit: 'milliseconds',
      minMessage: 'must not be negative (0 turns heartbeats off)',
    },
    doc: 'ping interval; a peer silent for a whole interval is terminated; `0` turns heartbeats off',
  },
  {
    kind: 'int',
    option: 'shutdownDrainMs',
    env: 'SHUTDOWN_DRAIN_MS',
    default: 10_000,
    min: 0,
    envRule: { unit: 'milliseconds' },
    doc: 'how long SIGTERM waits for clients to close after the 1001 close frame',
  },
  {
    kind: 'int',
    option: 'closeGraceMs',
    env: 'WS_CLOSE_GRACE_MS',
    default: 3_000,
    min: 0,
    envRule: { unit: 'milliseconds' },
    doc: 'how long a close the server decides waits for the replies of requests already accepted; then they are answered `INTERNAL`',
  },
  {
    kind: 'int',
    option: 'maxRoomsPerConnection',
    env: 'MAX_ROOMS_PER_CONNECTION',
    default: 100,
    min: 1,
    envRule: { max: 10_000 },
    doc: 'rooms one connection may be in at once',
  },
  {
    kind: 'int',
    option: 'history.size',
    env: 'HISTORY_SIZE',
    default: 1_000,
    min: 0,
    max: 100_000,
    envRule: {
      maxMessage: 'must be between 0 (off) and 100000',
    },
    doc: 'messages a room keeps for recovery and `history`; `0` turns history off (pushes carry no offset)',
  },
  {
    kind: 'int',
    option: 'history.ttlMs',
    env: 'HISTORY_TTL_MS',
    default: 300_000,
    min: 1,
    envRule: { unit: 'milliseconds' },
    doc: "how long a room's messages are kept, and its stream (its epoch) outlives its last message",
  },
  {
    kind: 'int',
    option: 'history.recoveryLimit',
    env: 'HISTORY_RECOVERY_LIMIT',
    default: 1_000,
    min: 1,
    max: 100_000,
    doc: 'most messages one recovery replays (more missed: `recovered:false`); also the largest `history` limit',
  },
  {
    kind: 'int',
    option: 'history.memoryBytes',
    env: 'HISTORY_MEMORY_BYTES',
    default: 64 * MiB,
    min: 1,
    envRule: { unit: 'bytes' },
    doc: "bytes the embedded store (no `REDIS_URL`) may hold over all rooms; past it the oldest messages go first. With Redis, Redis's memory holds history",
  },
  {
    kind: 'boolean',
    option: 'presence.enabled',
    env: 'PRESENCE_ENABLED',
    default: true,
    doc: '`false` turns presence off: joins and leaves write nothing to the presence store, and `presence` is answered `BAD_REQUEST`',
  },
  {
    kind: 'int',
    option: 'presence.tickMs',
    env: 'PRESENCE_TICK_MS',
    default: 200,
    min: 1,
    max: 60_000,
    envRule: {
      unit: 'milliseconds',
      min: 10,
      minMessage: 'must be at least 10',
    },
    doc: 'how long presence changes are gathered before one diff per room goes to its subscribers',
  },
  {
    kind: 'int',
    option: 'presence.ttlMs',
    env: 'PRESENCE_TTL_MS',
    default: 15_000,
    min: 1,
    envRule: {
      unit: 'milliseconds',
      min: 300,
      minMessage: 'must be at least 300',
    },
    doc: "how long an instance's members outlive its last refresh (a third of this); the members of an instance that died leave within it",
  },
  {
    kind: 'int',
    option: 'presence.maxMembers',
    env: 'PRESENCE_MAX_MEMBERS',
    default: 1_000,
    min: 0,
    max: 100_000,
    doc: 'members a room lists; a larger room is counted, not listed, and its subscribers get counts instead of diffs',
  },
  {
    kind: 'int',
    option: 'console.sessionTtlMs',
    env: 'CONSOLE_SESSION_TTL_MS',
    default: 8 * 3_600_000,
    min: 1,
    envRule: {
      unit: 'milliseconds',
      min: 60_000,
      minMessage: 'must be at least 60000 (a minute)',
    },
    docDefault: '`28800000` (8 h)',
    doc: 'how long a [web console](console.md) login lasts',
  },
  {
    kind: 'int',
    option: 'console.statsIntervalMs',
    env: 'CONSOLE_STATS_INTERVAL_MS',
    default: 2_000,
    min: 1,
    max: 60_000,
    envRule: {
      unit: 'milliseconds',
      min: 100,
      minMessage: 'must be at least 100',
    },
    doc: 'how often each instance publishes its numbers to the web console (only while `CONSOLE_TOKENS` or `CONSOLE_JWT_ROLE_CLAIM` is set); one silent for three intervals is shown as gone',
  },
  {
    kind: 'boolean',
    option: 'asyncapi',
    env: 'ASYNCAPI_ENABLED',
    default: false,
    docDefault: '`true` (the option of `GatewayModule`: `false`)',
    doc: 'serve the protocol as an AsyncAPI 3.0 document at `GET /asyncapi.json`, made from the handlers ([the contract](asyncapi.md))',
  },
  {
    kind: 'boolean',
    option: 'perMessageDeflate',
    env: 'WS_PERMESSAGE_DEFLATE',
    default: false,
    doc: 'negotiate permessage-deflate with clients that offer it; `WS_MAX_PAYLOAD` then bounds the inflated size (a deflate bomb ends in 1009)',
  },
  {
    kind: 'string',
    option: 'redis.channelPrefix',
    onlyWith: 'redis',
    env: 'REDIS_CHANNEL_PREFIX',
    default: 'gateway:',
    check: isChannelPrefix,
    problem: (value) =>
      typeof value === 'string'
        ? `${CHANNEL_PREFIX_RULE} ${got(value)}`
        : 'must be a string',
    envChecks: [
      {
        valid: (value) => /^[\w.:@/-]{0,64}$/.test(value),
        message: 'must be at most 64 characters of A-Z a-z 0-9 _ - . : @ /',
      },
      // The alphabet above leaves the separator out already; this says why it must stay out.
      { valid: isChannelPrefix, message: CHANNEL_PREFIX_RULE },
    ],
    doc: 'starts every pub/sub channel name, so several deployments can share one Redis: up to 64 of `A-Z a-z 0-9 _ - . : @ /`',
  },
  {
    kind: 'string',
    option: 'roomAcl.claim',
    onlyWith: 'roomAcl',
    env: 'ROOM_ACL_CLAIM',
    default: DEFAULT_ROOM_ACL_CLAIM,
    check: (value) => typeof value === 'string' && value.length > 0,
    problem: () => 'must be a non-empty claim name',
    envChecks: [
      {
        valid: (value) => /^\S{1,256}$/.test(value),
        message:
          'must be a claim name of at most 256 characters without spaces',
      },
    ],
    doc: "the JWT claim listing a principal's room grants; only with `ROOM_ACL=true`",
  },
] as const satisfies readonly GatewaySetting[];

/** Reads a setting's value from an options object; missing levels read as `undefined`. */
function readOption(options: object, path: string): unknown {
  let value: unknown = options;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Sets a setting's value in an options object, making the levels it needs. */
export function writeOption(
  options: object,
  path: string,
  value: unknown,
): void {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let target = options as Record<string, unknown>;
  for (const key of keys) {
    target[key] ??= {};
    target = target[key] as Record<string, unknown>;
  }
  target[last] = value;
}

/** The problem with an option value, or `undefined` when it is valid. */
export function settingProblem(
  setting: GatewaySetting,
  value: unknown,
): string | undefined {
  if (setting.kind === 'boolean') return undefined;
  if (setting.kind === 'string')
    return setting.check(value)
      ? undefined
      : `${setting.option}: ${setting.problem(value)}`;
  const { min, option } = setting;
  const max: number | undefined = setting.max;
  const valid =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= min &&
    (max === undefined || value <= max);
  if (valid) return undefined;
  const rule =
    max !== undefined
      ? `an integer from ${min} to ${max}`
      : min === 1
        ? 'a positive integer'
        : 'a non-negative integer';
  return `${option}: must be ${rule} (got ${String(value)})`;
}

/** The value a setting takes from an options object: the one given, or its default. */
export function settingValue(
  setting: GatewaySetting,
  options: object,
): number | boolean | string {
  const given = readOption(options, setting.option);
  if (setting.kind === 'boolean')
    return typeof given === 'boolean' ? given : setting.default;
  return (given ?? setting.default) as number | string;
}

type TableSetting = (typeof GATEWAY_SETTINGS)[number];

/** The table's entry for an option, for the code that resolves it outside the generic loops. */
export function settingOf<P extends TableSetting['option']>(
  option: P,
): Extract<TableSetting, { option: P }> {
  return GATEWAY_SETTINGS.find(
    (setting) => setting.option === option,
  ) as Extract<TableSetting, { option: P }>;
}

type Undeclared = Exclude<
  IntOptionPath | BooleanOptionPath | StringOptionPath,
  TableSetting['option']
>;
/**
 * Compiles only while every number, boolean and string option of {@link GatewayOptions} that
 * has a default is in the table:
 * one left out would have no default and no check.
 */
export const EVERY_SCALAR_OPTION_DECLARED: [Undeclared] extends [never]
  ? true
  : Undeclared = true;
