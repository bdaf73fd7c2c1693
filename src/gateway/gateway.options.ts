import { DEFAULT_JWT_CLOCK_TOLERANCE_SEC } from './auth/jwt.verifier.js';
import type { TokenVerifier } from './auth/token-verifier.js';
import type { Principal } from './auth/principal.js';
import type { PresenceStore } from './presence/presence-store.js';
import {
  parseConsoleCredentials,
  type GatewayConsoleOptions,
  type ResolvedConsoleOptions,
} from './console/console-options.js';
import type { MessageBus } from './bus/message-bus.js';
import type { HistoryStore, Retention } from './history/history-store.js';
import {
  isProxyAddressOrBlock,
  TrustedProxies,
} from './admission/client-address.js';
import type { RateLimits } from './connections/rate-limiter.js';
import { isRoomGrant, ROOM_GRANT_RULE } from './rooms/grant-room-policy.js';
import type { RoomPolicy } from './rooms/room-policy.js';
import {
  GATEWAY_SETTINGS,
  MAX_DEPTH_LIMIT,
  settingOf,
  settingProblem,
  settingValue,
  writeOption,
} from './settings.js';

/** JWT verification with `jose`: one of `secret`, `publicKey` or `jwksUrl`. */
export interface GatewayJwtOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** PEM public key (SPKI) for RS256 or ES256. */
  publicKey?: string;
  /** JWKS endpoint; keys are cached and refetched when an unknown `kid` appears. */
  jwksUrl?: string;
  /** Required `iss` claim. */
  issuer?: string;
  /** Accepted `aud` values (any one matches). */
  audience?: readonly string[];
  /** Allowed clock skew for `exp` and `nbf`, in seconds. Default 5. */
  clockToleranceSec?: number;
}

/** Authentication at the handshake. */
export interface GatewayAuthOptions {
  /**
   * Static bearer tokens the default verifier accepts. None, no JWT, no custom verifier and auth
   * not disabled: every handshake is refused (auth is never silently off).
   */
  tokens?: readonly string[];
  /** JWTs accepted besides the static tokens. */
  jwt?: GatewayJwtOptions;
  /**
   * A verifier of your own (API keys in a database, OAuth introspection), used instead of the
   * JWT settings and after the static tokens. `forRootAsync` can build it with injected services.
   */
  verifier?: TokenVerifier;
  /** Accept every handshake without a token. Default `false`; `true` logs a warning at boot. */
  disabled?: boolean;
}

/** Fan-out across instances through Redis pub/sub. */
export interface GatewayRedisOptions {
  /** `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /**
   * Starts every channel name (`<prefix>|<channel>`), so deployments can share one Redis. Any
   * string without `|`. Default `gateway:`.
   */
  channelPrefix?: string;
}

/** What one connection may make the server do: token buckets of messages and bytes. */
export interface GatewayRateLimitOptions {
  /** Messages per second, sustained. Default 100. */
  perSecond?: number;
  /** How many messages may come at once. Default 200. */
  burst?: number;
  /** Bytes received per second, sustained, measured before parsing. Default 1 MiB. */
  bytesPerSecond?: number;
  /**
   * How many bytes may come at once; at least `maxPayloadBytes`, so that any message that fits
   * can pass. Default 4 MiB, or `maxPayloadBytes` when that is larger.
   */
  bytesBurst?: number;
  /**
   * Bytes per second a connection's messages may make the server send out (a broadcast's frame
   * size times its recipients on this instance); a second's worth may go at once. Past it the
   * connection's next messages are refused until the budget is paid back. Default 64 MiB.
   */
  fanoutBytesPerSecond?: number;
}

/**
 * What rooms keep of their messages, so that a client that drops and comes back misses nothing
 * (see docs/protocol.md, "History and recovery").
 */
export interface GatewayHistoryOptions {
  /** Messages kept per room; 0 turns history off. Default 1,000. */
  size?: number;
  /** How long a message is kept, and a room's stream outlives its last message. Default 5 min. */
  ttlMs?: number;
  /** Most messages one recovery replays; more missed is `recovered:false`. Default 1,000. */
  recoveryLimit?: number;
  /**
   * Bytes the embedded store (without Redis) may hold over all rooms; past it the oldest
   * messages go first. Default 64 MiB. Not used with Redis or a `store` of your own.
   */
  memoryBytes?: number;
  /**
   * The retention of one room, where it differs from `size` and `ttlMs`: `undefined` keeps
   * the defaults, `{ size: 0 }` turns history off for the room. Called on every publish and
   * join, so keep it cheap (a prefix test, a map lookup).
   */
  retention?: (room: string) => Partial<Retention> | undefined;
  /**
   * A store of your own. Default: Redis Streams with `redis`, else memory, per instance (with
   * a `bus` of your own, several instances then number a room's messages each on their own:
   * give them a shared store).
   */
  store?: HistoryStore;
}

/** Who is in which room (see docs/protocol.md, "Presence"). */
export interface GatewayPresenceOptions {
  /**
   * Track who is in which room. Default `true`; `false` saves a store write per join and leave,
   * and `presence` requests are answered `BAD_REQUEST`.
   */
  enabled?: boolean;
  /** How long changes are gathered into one diff per room. Default 200 ms. */
  tickMs?: number;
  /**
   * How long an instance's members outlive its last refresh (every third of this): the members
   * of an instance that died leave within it. Default 15 s.
   */
  ttlMs?: number;
  /** Members a room lists; a larger room is counted, not listed. Default 1,000. */
  maxMembers?: number;
  /**
   * The public `info` of a member, from its principal (a display name, an avatar): at most
   * 1 KiB as JSON, never a token. Default: the claims named in `infoClaims`, else `{}`.
   */
  info?: (principal: Principal) => Record<string, unknown> | undefined;
  /** JWT claims copied into `info` when no `info` function is given. Default none. */
  infoClaims?: readonly string[];
  /** A store of your own. Default: Redis with `redis`, else memory (one instance). */
  store?: PresenceStore;
}

/**
 * Room permissions without code: each principal may do what its grants say (see
 * `GrantRoomPolicy`). A grant is `<action>:<room pattern>`, the action `join`, `publish`,
 * `presence`, `history` or `*`, `*` in the pattern standing for any run of characters.
 */
export interface GatewayRoomAclOptions {
  /**
   * The claim listing a principal's grants (a list, or a string separated by spaces), besides
   * its scopes prefixed `rooms:` (`rooms:join:chat/*`). Default `rooms`.
   */
  claim?: string;
  /** Grants every principal has (static tokens have no scopes): `['join:lobby']`. Default none. */
  grants?: readonly string[];
}

/**
 * Options of {@link GatewayModule}: `GatewayModule.forRoot({...})` or `forRootAsync(...)`.
 * Every field is optional; the defaults are safe on the open internet.
 */
export interface GatewayOptions {
  /** URL path the WebSocket server answers on. Default `/`. */
  path?: string;
  auth?: GatewayAuthOptions;
  /**
   * `Origin` values allowed to open a WebSocket (`https://app.example.com`); another gets 403.
   * Default: any, including none (non-browser clients send no `Origin`).
   */
  allowedOrigins?: readonly string[];
  /**
   * Reverse proxies (load balancers) in front of the gateway, by IP address or CIDR block
   * (`10.0.0.5`, `10.0.0.0/8`, `fd00::/8`). A connection from one of them is logged with the
   * client's address from `X-Forwarded-For`: the right-most one that is not such a proxy.
   * Default none: `X-Forwarded-For` is ignored, as any client can send it, and the address is
   * the TCP peer's.
   */
  trustedProxies?: readonly string[];
  /** Open connections per instance; past it the handshake gets 503. Default 10,000. */
  maxConnections?: number;
  /**
   * Open connections one principal (by its `subject`) may hold on this instance; past it the
   * handshake gets 429 with `Retry-After`, so one token cannot take every slot. Default 0: no
   * cap, as clients may share one static token. Not applied with `auth.disabled`, where every
   * client is the same `anonymous` principal (use `maxConnectionsPerAddress`).
   */
  maxConnectionsPerPrincipal?: number;
  /**
   * Open connections, and handshakes being verified, from one remote address on this instance;
   * past it the handshake gets 429 with `Retry-After`, before the token is checked. Default 0:
   * no cap. The address is the TCP peer's: behind a proxy or a NAT every client shares one.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Largest message accepted, in bytes; a larger frame closes the connection with 1009.
   * Default 1 MiB (python-websockets' `max_size`; `ws`'s own 100 MiB invites memory exhaustion).
   */
  maxPayloadBytes?: number;
  /**
   * How deep arrays and objects may nest in one message, the envelope being the first level;
   * deeper is answered `BAD_REQUEST`, checked in one pass before the message is parsed. Default
   * 64; at most 1,000, past which serializing a reply could overflow the stack.
   */
  maxDepth?: number;
  /**
   * Fragments one message may arrive in; more closes the connection with 1008. Default 1,024
   * (`ws` allows 16,384: each fragment is a buffer the server holds until the message ends).
   */
  maxFragments?: number;
  /**
   * Negotiate permessage-deflate with clients that offer it. Default `false`: compression costs
   * CPU and memory per connection. When on, `maxPayloadBytes` bounds the inflated size, so a
   * deflate bomb ends in 1009.
   */
  perMessageDeflate?: boolean;
  /**
   * Messages per connection. Over the limit a message is answered `RATE_LIMITED`; a client that
   * keeps flooding (more refused messages in one second than `burst`) is closed with 1008.
   */
  rateLimit?: GatewayRateLimitOptions;
  /**
   * Bytes waiting in one connection's send buffer before the client counts as too slow to read
   * and is closed with 1013. Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /** Ping interval; a peer silent for a whole interval is terminated. Default 30 s; 0: off. */
  heartbeatIntervalMs?: number;
  /** How long shutdown waits for clients to close after the 1001 close frame. Default 10 s. */
  shutdownDrainMs?: number;
  /**
   * How long a close the server decides (1001, 1008, 1013, 4401) waits for the handlers of
   * requests it already accepted, so that each gets its reply before the close frame. A handler
   * still running then is answered `INTERNAL`. Default 3 s; 0: answer at once.
   */
  closeGraceMs?: number;
  /** Set: fan out through Redis. Unset: in memory, one instance (the embedded default). */
  redis?: GatewayRedisOptions;
  /** A message bus of your own (NATS, Kafka...), used instead of `redis` and the in-memory one. */
  bus?: MessageBus;
  /** Rooms one connection may be in at once; a further `join` is `FORBIDDEN`. Default 100. */
  maxRoomsPerConnection?: number;
  /** Room history and recovery. On by default: 1,000 messages per room for 5 minutes. */
  history?: GatewayHistoryOptions;
  /** Who is in which room: `presence` requests and `join` with `presence`. */
  presence?: GatewayPresenceOptions;
  /**
   * Who may join and publish to which room: a `RoomPolicy` of your own, asked before each
   * client's `join` and `publish` (`false`: `FORBIDDEN`). `forRootAsync` can build it with
   * injected services. Not with `roomAcl`.
   */
  roomPolicy?: RoomPolicy;
  /**
   * Set: rooms are allowed by grants from scopes, a claim and this list (see
   * {@link GatewayRoomAclOptions}); a principal without a matching grant gets `FORBIDDEN`.
   * Unset, and no `roomPolicy`: every principal may join and publish to every room.
   */
  roomAcl?: GatewayRoomAclOptions;
  /**
   * The web console at `/console` (see docs/console.md): on when `tokens` or `jwtRoleClaim` is
   * given, off otherwise.
   */
  console?: GatewayConsoleOptions;
  /**
   * Serve the protocol as an AsyncAPI 3.0 document at `GET /asyncapi.json`, made from the
   * application's handlers (see docs/module.md). Default false; the service turns it on.
   */
  asyncapi?: boolean;
}

/** {@link GatewayOptions} with every default applied; what the providers inject. */
export interface ResolvedGatewayOptions {
  readonly path: string;
  readonly auth: {
    readonly tokens: readonly string[];
    readonly jwt?: Readonly<GatewayJwtOptions> & {
      readonly clockToleranceSec: number;
    };
    readonly verifier?: TokenVerifier;
    readonly disabled: boolean;
  };
  /** Undefined: any origin. */
  readonly allowedOrigins?: ReadonlySet<string>;
  /** Undefined: none, `X-Forwarded-For` is not read. */
  readonly trustedProxies?: TrustedProxies;
  readonly maxConnections: number;
  /** 0: no cap. */
  readonly maxConnectionsPerPrincipal: number;
  /** 0: no cap. */
  readonly maxConnectionsPerAddress: number;
  readonly maxPayloadBytes: number;
  readonly maxDepth: number;
  readonly maxFragments: number;
  readonly perMessageDeflate: boolean;
  readonly rateLimit: RateLimits;
  readonly maxBufferedBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly shutdownDrainMs: number;
  readonly closeGraceMs: number;
  readonly redis?: { readonly url: string; readonly channelPrefix: string };
  readonly bus?: MessageBus;
  readonly maxRoomsPerConnection: number;
  readonly history: {
    readonly size: number;
    readonly ttlMs: number;
    readonly recoveryLimit: number;
    readonly memoryBytes: number;
    readonly retention?: (room: string) => Partial<Retention> | undefined;
    readonly store?: HistoryStore;
  };
  readonly presence: {
    readonly enabled: boolean;
    readonly tickMs: number;
    readonly ttlMs: number;
    readonly maxMembers: number;
    readonly info?: (
      principal: Principal,
    ) => Record<string, unknown> | undefined;
    readonly infoClaims: readonly string[];
    readonly store?: PresenceStore;
  };
  readonly roomPolicy?: RoomPolicy;
  readonly roomAcl?: {
    readonly claim: string;
    readonly grants: readonly string[];
  };
  /** Undefined: the console is off. */
  readonly console?: ResolvedConsoleOptions;
  readonly asyncapi: boolean;
}

/**
 * The defaults of the table's settings, as an options object; not those of Redis and the room
 * ACL, which are off by default.
 */
function settingDefaults(): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  for (const setting of GATEWAY_SETTINGS)
    if (!('onlyWith' in setting))
      writeOption(defaults, setting.option, setting.default);
  return defaults;
}

const TABLE_DEFAULTS = settingDefaults();

/** Every default, from the settings table (`settings.ts`) and the token list. */
export const GATEWAY_DEFAULTS: ResolvedGatewayOptions = Object.freeze({
  ...TABLE_DEFAULTS,
  rateLimit: Object.freeze(TABLE_DEFAULTS.rateLimit as RateLimits),
  history: Object.freeze(TABLE_DEFAULTS.history as object),
  presence: Object.freeze({
    ...(TABLE_DEFAULTS.presence as object),
    infoClaims: Object.freeze([]) as readonly string[],
  }),
  auth: Object.freeze({
    ...(TABLE_DEFAULTS.auth as object),
    tokens: Object.freeze([]) as readonly string[],
  }),
  // Off by default: its settings' defaults apply once it has logins.
  console: undefined,
  asyncapi: false,
} as unknown as ResolvedGatewayOptions);

export { MAX_DEPTH_LIMIT };

/** The Redis channel prefix when `redis.channelPrefix` is unset. */
export const DEFAULT_REDIS_CHANNEL_PREFIX = settingOf(
  'redis.channelPrefix',
).default;

/** The part of {@link ResolvedGatewayOptions} the settings table resolves. */
type TableOptions = Pick<
  ResolvedGatewayOptions,
  | Extract<
      (typeof GATEWAY_SETTINGS)[number]['option'],
      keyof ResolvedGatewayOptions
    >
  | 'rateLimit'
>;

/** Thrown at boot for options that cannot work; the message names every problem. */
export class GatewayOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid GatewayModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'GatewayOptionsError';
  }
}

const isPositiveInt = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n > 0;

const isNonNegativeInt = (n: unknown): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= 0;

/** Collects the problems of one options object, field by field. */
class Checker {
  readonly problems: string[] = [];

  nonNegative(name: string, value: unknown): void {
    if (!isNonNegativeInt(value)) {
      this.problems.push(
        `${name}: must be a non-negative integer (got ${String(value)})`,
      );
    }
  }

  check(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }

  report(problem: string | undefined): void {
    if (problem !== undefined) this.problems.push(problem);
  }
}

function resolveJwt(
  jwt: GatewayJwtOptions | undefined,
  checker: Checker,
): ResolvedGatewayOptions['auth']['jwt'] {
  if (!jwt) return undefined;
  const keys = [jwt.secret, jwt.publicKey, jwt.jwksUrl].filter(Boolean).length;
  checker.check(
    keys === 1,
    'auth.jwt: give exactly one of secret, publicKey, jwksUrl',
  );
  const clockToleranceSec =
    jwt.clockToleranceSec ?? DEFAULT_JWT_CLOCK_TOLERANCE_SEC;
  checker.nonNegative('auth.jwt.clockToleranceSec', clockToleranceSec);
  if (jwt.jwksUrl !== undefined) {
    checker.check(
      /^https?:\/\/\S+$/.test(jwt.jwksUrl),
      'auth.jwt.jwksUrl: must be an http(s) URL',
    );
  }
  return { ...jwt, clockToleranceSec };
}

function resolveRoomAcl(
  acl: GatewayRoomAclOptions | undefined,
  checker: Checker,
): ResolvedGatewayOptions['roomAcl'] {
  if (!acl) return undefined;
  const claimSetting = settingOf('roomAcl.claim');
  const claim = acl.claim ?? claimSetting.default;
  checker.report(settingProblem(claimSetting, claim));
  const grants = acl.grants ?? [];
  if (!Array.isArray(grants)) {
    checker.check(false, 'roomAcl.grants: must be a list of grants');
    return undefined;
  }
  for (const grant of grants as unknown[]) {
    checker.check(
      isRoomGrant(grant),
      `roomAcl.grants: ${JSON.stringify(grant)} ${ROOM_GRANT_RULE}`,
    );
  }
  return { claim, grants: [...(grants as string[])] };
}

/** Applies the defaults and checks the result; throws {@link GatewayOptionsError}. */
export function resolveGatewayOptions(
  options: GatewayOptions = {},
): ResolvedGatewayOptions {
  const d = GATEWAY_DEFAULTS;
  const checker = new Checker();
  // String settings are checked here and in the objects that turn them on, not in the loop
  // below, so that problems keep the order they have always been reported in.
  const pathSetting = settingOf('path');
  const path = options.path ?? pathSetting.default;
  checker.report(settingProblem(pathSetting, path));
  const tokens = options.auth?.tokens ?? d.auth.tokens;
  checker.check(
    Array.isArray(tokens) &&
      tokens.every((t) => typeof t === 'string' && t.length > 0),
    'auth.tokens: must be a list of non-empty strings',
  );
  const jwt = resolveJwt(options.auth?.jwt, checker);
  const origins = options.allowedOrigins;
  if (origins !== undefined) {
    checker.check(
      Array.isArray(origins) &&
        origins.every((o) => typeof o === 'string' && o.length > 0),
      'allowedOrigins: must be a list of origins such as https://app.example.com',
    );
  }
  const proxies = options.trustedProxies;
  if (proxies !== undefined) {
    const isEntry = (p: unknown) =>
      typeof p === 'string' && isProxyAddressOrBlock(p);
    const valid = Array.isArray(proxies) && proxies.every(isEntry);
    const bad = Array.isArray(proxies)
      ? (proxies as readonly unknown[]).find((p) => !isEntry(p))
      : proxies;
    checker.check(
      valid,
      `trustedProxies: must be a list of IP addresses or CIDR blocks such as 10.0.0.0/8 (got ${JSON.stringify(bad)})`,
    );
  }
  const scalars: Record<string, unknown> = {};
  for (const setting of GATEWAY_SETTINGS) {
    if (setting.kind === 'string') continue;
    const value = settingValue(setting, options);
    checker.report(settingProblem(setting, value));
    writeOption(scalars, setting.option, value);
  }
  const { maxPayloadBytes } = scalars as { maxPayloadBytes: unknown };
  const rateLimit = scalars.rateLimit as {
    -readonly [K in keyof RateLimits]: RateLimits[K];
  };
  // Any message that fits must be able to pass: an unset byte burst grows to the payload limit.
  rateLimit.bytesBurst =
    options.rateLimit?.bytesBurst ??
    (isPositiveInt(maxPayloadBytes)
      ? Math.max(rateLimit.bytesBurst, maxPayloadBytes)
      : rateLimit.bytesBurst);
  checker.check(
    !isPositiveInt(rateLimit.bytesBurst) ||
      !isPositiveInt(maxPayloadBytes) ||
      rateLimit.bytesBurst >= maxPayloadBytes,
    `rateLimit.bytesBurst: must be at least maxPayloadBytes (${String(maxPayloadBytes)}), or the largest messages could never pass (got ${String(rateLimit.bytesBurst)})`,
  );
  let redis: ResolvedGatewayOptions['redis'];
  if (options.redis) {
    // Only an unset prefix takes the default: null is reported, as it always was.
    const { url, channelPrefix = DEFAULT_REDIS_CHANNEL_PREFIX } = options.redis;
    checker.check(
      typeof url === 'string' && /^rediss?:\/\/./.test(url),
      'redis.url: must be a redis:// or rediss:// URL',
    );
    checker.report(
      settingProblem(settingOf('redis.channelPrefix'), channelPrefix),
    );
    redis = { url, channelPrefix };
  }
  const verifier = options.auth?.verifier;
  if (verifier !== undefined) {
    checker.check(
      typeof verifier?.verify === 'function',
      'auth.verifier: must have a verify(token) method',
    );
  }
  const bus = options.bus;
  if (bus !== undefined) {
    checker.check(
      ['publish', 'subscribe', 'unsubscribe', 'isReady'].every(
        (m) =>
          typeof (bus as unknown as Record<string, unknown>)?.[m] ===
          'function',
      ),
      'bus: must implement MessageBus (publish, subscribe, unsubscribe, isReady)',
    );
  }
  const retention = options.history?.retention;
  checker.check(
    retention === undefined || typeof retention === 'function',
    'history.retention: must be a function of the room name',
  );
  const store = options.history?.store;
  checker.check(
    store === undefined ||
      (typeof store?.append === 'function' &&
        typeof store?.read === 'function'),
    'history.store: must implement HistoryStore (append, read)',
  );
  const presenceInfo = options.presence?.info;
  checker.check(
    presenceInfo === undefined || typeof presenceInfo === 'function',
    'presence.info: must be a function of the principal',
  );
  const infoClaims = options.presence?.infoClaims ?? [];
  checker.check(
    Array.isArray(infoClaims) &&
      infoClaims.every((c) => typeof c === 'string' && c.length > 0),
    'presence.infoClaims: must be a list of claim names',
  );
  const presenceStore = options.presence?.store;
  checker.check(
    presenceStore === undefined ||
      ['set', 'list', 'refresh', 'sweep'].every(
        (m) =>
          typeof (presenceStore as unknown as Record<string, unknown>)?.[m] ===
          'function',
      ),
    'presence.store: must implement PresenceStore (set, list, refresh, sweep)',
  );
  const roomPolicy = options.roomPolicy;
  if (roomPolicy !== undefined) {
    checker.check(
      typeof roomPolicy?.authorize === 'function',
      'roomPolicy: must have an authorize(principal, room, action) method',
    );
  }
  const roomAcl = resolveRoomAcl(options.roomAcl, checker);
  checker.check(
    !(roomPolicy && roomAcl),
    'roomAcl: give roomPolicy or roomAcl, not both (roomPolicy would ignore it)',
  );
  const consoleCredentials = parseConsoleCredentials(options.console?.tokens);
  for (const problem of consoleCredentials.problems) checker.report(problem);
  const clientTokens = new Set(Array.isArray(tokens) ? tokens : []);
  for (const { name, secret } of consoleCredentials.credentials)
    checker.check(
      !clientTokens.has(secret),
      `console.tokens: ${name}'s secret is also a client token (auth.tokens); a console secret must never open a client connection`,
    );
  const jwtRoleClaim = options.console?.jwtRoleClaim;
  checker.check(
    jwtRoleClaim === undefined ||
      (typeof jwtRoleClaim === 'string' && jwtRoleClaim.length > 0),
    'console.jwtRoleClaim: must be a claim name',
  );
  checker.check(
    jwtRoleClaim === undefined || jwt !== undefined || verifier !== undefined,
    'console.jwtRoleClaim: needs JWT authentication (auth.jwt or auth.verifier) to verify the JWTs',
  );
  const asyncapi = options.asyncapi ?? false;
  checker.check(
    typeof asyncapi === 'boolean',
    'asyncapi: must be true or false',
  );
  if (checker.problems.length > 0)
    throw new GatewayOptionsError(checker.problems);
  const {
    auth: tableAuth,
    console: tableConsole,
    history: tableHistory,
    presence: tablePresence,
    ...table
  } = scalars as TableOptions & {
    auth: Pick<ResolvedGatewayOptions['auth'], 'disabled'>;
    history: Omit<ResolvedGatewayOptions['history'], 'retention' | 'store'>;
    presence: Pick<
      ResolvedGatewayOptions['presence'],
      'enabled' | 'tickMs' | 'ttlMs' | 'maxMembers'
    >;
    console: Pick<ResolvedConsoleOptions, 'sessionTtlMs' | 'statsIntervalMs'>;
  };
  const consoleOn =
    consoleCredentials.credentials.length > 0 || jwtRoleClaim !== undefined;
  return {
    ...table,
    history: { ...tableHistory, retention, store },
    presence: {
      ...tablePresence,
      info: presenceInfo,
      infoClaims: [...infoClaims],
      store: presenceStore,
    },
    path,
    auth: { ...tableAuth, tokens: [...tokens], jwt, verifier },
    allowedOrigins: origins ? new Set(origins) : undefined,
    trustedProxies: proxies?.length ? new TrustedProxies(proxies) : undefined,
    redis,
    bus,
    roomPolicy,
    roomAcl,
    asyncapi,
    console: consoleOn
      ? {
          ...tableConsole,
          credentials: consoleCredentials.credentials,
          jwtRoleClaim,
        }
      : undefined,
  };
}
