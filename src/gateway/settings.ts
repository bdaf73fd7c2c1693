import { DEFAULT_MAX_DEPTH } from '../protocol/envelope.js';
import type {
  GatewayOptions,
  GatewayRateLimitOptions,
} from './gateway.options.js';

/** The highest `maxDepth` accepted. */
export const MAX_DEPTH_LIMIT = 1_000;

type KeysOfType<T, V> = {
  [K in keyof T]-?: NonNullable<T[K]> extends V ? K & string : never;
}[keyof T];

/** Where an integer setting sits in {@link GatewayOptions}: `maxDepth`, `rateLimit.burst`. */
export type IntOptionPath =
  | KeysOfType<GatewayOptions, number>
  | `rateLimit.${KeysOfType<GatewayRateLimitOptions, number>}`;

/** Where a boolean setting sits in {@link GatewayOptions}. */
export type BooleanOptionPath = KeysOfType<GatewayOptions, boolean>;

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

/** One setting of {@link GatewayModule}, declared once for the options and the environment. */
export type GatewaySetting = IntSetting | BooleanSetting;

const MiB = 1024 * 1024;

/**
 * The module's scalar settings, in the order their problems are reported. Settings that are
 * not one value with a default (auth, JWT, origins, proxies, Redis, room permissions, the
 * seams) are resolved by code in `gateway.options.ts`.
 */
export const GATEWAY_SETTINGS = [
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
    kind: 'boolean',
    option: 'perMessageDeflate',
    env: 'WS_PERMESSAGE_DEFLATE',
    default: false,
    doc: 'negotiate permessage-deflate with clients that offer it; `WS_MAX_PAYLOAD` then bounds the inflated size (a deflate bomb ends in 1009)',
  },
] as const satisfies readonly GatewaySetting[];

/** Reads a setting's value from an options object; missing levels read as `undefined`. */
export function readOption(options: object, path: string): unknown {
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
): number | boolean {
  const given = readOption(options, setting.option);
  if (setting.kind === 'boolean')
    return typeof given === 'boolean' ? given : setting.default;
  return (given ?? setting.default) as number;
}

type Undeclared = Exclude<
  IntOptionPath | BooleanOptionPath,
  (typeof GATEWAY_SETTINGS)[number]['option']
>;
/**
 * Compiles only while every number and boolean option of {@link GatewayOptions} is in the table:
 * one left out would have no default and no check.
 */
export const EVERY_SCALAR_OPTION_DECLARED: [Undeclared] extends [never]
  ? true
  : Undeclared = true;
