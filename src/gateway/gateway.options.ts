import { ConfigurableModuleBuilder } from '@nestjs/common';

/** Authentication at the handshake. */
export interface GatewayAuthOptions {
  /**
   * Static bearer tokens the default verifier accepts. None, with no custom verifier and auth
   * not disabled: every handshake is refused (auth is never silently off).
   */
  tokens?: readonly string[];
  /** Accept every handshake without a token. Default `false`; `true` logs a warning at boot. */
  disabled?: boolean;
}

/** Fan-out across instances through Redis pub/sub. */
export interface GatewayRedisOptions {
  /** `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** Prepended to every channel name, so deployments can share one Redis. Default `gateway:`. */
  channelPrefix?: string;
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
   * Largest message accepted, in bytes; a larger frame closes the connection with 1009.
   * Default 1 MiB (python-websockets' `max_size`; `ws`'s own 100 MiB invites memory exhaustion).
   */
  maxPayloadBytes?: number;
  /** How long shutdown waits for clients to close after the 1001 close frame. Default 10 s. */
  shutdownDrainMs?: number;
  /** Set: fan out through Redis. Unset: in memory, one instance (the embedded default). */
  redis?: GatewayRedisOptions;
  /** Rooms one connection may be in at once; a further `join` is `FORBIDDEN`. Default 100. */
  maxRoomsPerConnection?: number;
}

/** {@link GatewayOptions} with every default applied; what the providers inject. */
export interface ResolvedGatewayOptions {
  readonly path: string;
  readonly auth: {
    readonly tokens: readonly string[];
    readonly disabled: boolean;
  };
  readonly maxPayloadBytes: number;
  readonly shutdownDrainMs: number;
  readonly redis?: { readonly url: string; readonly channelPrefix: string };
  readonly maxRoomsPerConnection: number;
}

export const GATEWAY_DEFAULTS: ResolvedGatewayOptions = Object.freeze({
  path: '/',
  auth: Object.freeze({
    tokens: Object.freeze([]) as readonly string[],
    disabled: false,
  }),
  maxPayloadBytes: 1024 * 1024,
  shutdownDrainMs: 10_000,
  maxRoomsPerConnection: 100,
});

export const DEFAULT_REDIS_CHANNEL_PREFIX = 'gateway:';

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

/** Applies the defaults and checks the result; throws {@link GatewayOptionsError}. */
export function resolveGatewayOptions(
  options: GatewayOptions = {},
): ResolvedGatewayOptions {
  const problems: string[] = [];
  const path = options.path ?? GATEWAY_DEFAULTS.path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    problems.push(`path: must start with "/" (got ${JSON.stringify(path)})`);
  }
  const tokens = options.auth?.tokens ?? GATEWAY_DEFAULTS.auth.tokens;
  if (
    !Array.isArray(tokens) ||
    tokens.some((t) => typeof t !== 'string' || t.length === 0)
  ) {
    problems.push('auth.tokens: must be a list of non-empty strings');
  }
  const maxPayloadBytes =
    options.maxPayloadBytes ?? GATEWAY_DEFAULTS.maxPayloadBytes;
  if (!isPositiveInt(maxPayloadBytes)) {
    problems.push(
      `maxPayloadBytes: must be a positive integer (got ${String(maxPayloadBytes)})`,
    );
  }
  const shutdownDrainMs =
    options.shutdownDrainMs ?? GATEWAY_DEFAULTS.shutdownDrainMs;
  if (!Number.isInteger(shutdownDrainMs) || shutdownDrainMs < 0) {
    problems.push(
      `shutdownDrainMs: must be a non-negative integer (got ${shutdownDrainMs})`,
    );
  }
  const maxRoomsPerConnection =
    options.maxRoomsPerConnection ?? GATEWAY_DEFAULTS.maxRoomsPerConnection;
  if (!isPositiveInt(maxRoomsPerConnection)) {
    problems.push(
      `maxRoomsPerConnection: must be a positive integer (got ${String(maxRoomsPerConnection)})`,
    );
  }
  let redis: ResolvedGatewayOptions['redis'];
  if (options.redis) {
    const { url, channelPrefix = DEFAULT_REDIS_CHANNEL_PREFIX } = options.redis;
    if (typeof url !== 'string' || !/^rediss?:\/\/./.test(url)) {
      problems.push('redis.url: must be a redis:// or rediss:// URL');
    }
    if (typeof channelPrefix !== 'string')
      problems.push('redis.channelPrefix: must be a string');
    redis = { url, channelPrefix };
  }
  if (problems.length > 0) throw new GatewayOptionsError(problems);
  return {
    path,
    auth: { tokens: [...tokens], disabled: options.auth?.disabled === true },
    maxPayloadBytes,
    shutdownDrainMs,
    redis,
    maxRoomsPerConnection,
  };
}

/** Injection token of the {@link ResolvedGatewayOptions}. */
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');

export const {
  ConfigurableModuleClass: ConfigurableGatewayModule,
  MODULE_OPTIONS_TOKEN: GATEWAY_MODULE_OPTIONS,
  OPTIONS_TYPE: GATEWAY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: GATEWAY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<GatewayOptions>()
  .setClassMethodName('forRoot')
  .build();
