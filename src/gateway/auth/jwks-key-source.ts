import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwksCache,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type CompactJWSHeaderParameters,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
} from 'jose';

/** How a {@link JwksKeySource} fetches and keeps the key set. Every field has a default. */
export interface JwksTuning {
  /** Time one fetch of the key set may take. Default 5 s (the handshake waits for it). */
  timeoutMs?: number;
  /**
   * Least time between two fetches caused by a token whose `kid` is unknown, so random `kid`s
   * cannot make the gateway hammer the key server. Default 30 s.
   */
  cooldownMs?: number;
  /** Age after which the key set is fetched again before use. Default 10 min. */
  maxAgeMs?: number;
  /**
   * While the key server fails, the last key set fetched is still used for this long after its
   * fetch; a failing server is then retried at most once per `cooldownMs`. Default 1 h.
   */
  staleIfErrorMs?: number;
}

export const JWKS_DEFAULTS: Required<JwksTuning> = Object.freeze({
  timeoutMs: 5_000,
  cooldownMs: 30_000,
  maxAgeMs: 10 * 60_000,
  staleIfErrorMs: 60 * 60_000,
});

/**
 * The key set could not be had (unreachable, timed out, not a JWKS): the verifier cannot decide,
 * which is not the token's fault. The handshake answers 503.
 */
export class JwksUnavailableError extends Error {
  constructor(
    readonly endpoint: string,
    cause: unknown,
  ) {
    super(`JWKS endpoint ${endpoint} unavailable: ${describe(cause)}`, {
      cause,
    });
    this.name = 'JwksUnavailableError';
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is in its cause.
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause?.code ?? cause?.message;
  return typeof detail === 'string'
    ? `${err.message} (${detail})`
    : err.message;
}

/** A key set answer that is about the token (its `kid`, its `alg`), not about the server. */
const isAboutTheToken = (err: unknown) =>
  err instanceof errors.JWKSNoMatchingKey ||
  err instanceof errors.JWKSMultipleMatchingKeys;

/**
 * The keys of a JWKS endpoint, for `jwtVerify`. jose's remote key set does the fetching: cached
 * for `maxAgeMs`, fetched again when a token names an unknown `kid` (at most once per
 * `cooldownMs`), concurrent fetches shared. On top of it: a failure of the key server becomes a
 * {@link JwksUnavailableError} (503, not 401), and a blip of the key server does not refuse
 * every handshake while recently fetched keys are at hand.
 */
export class JwksKeySource {
  private readonly remote: RemoteJWKSet;
  /** jose writes every key set it fetches here, with the time of the fetch. */
  private readonly cache: { uat?: number; jwks?: JSONWebKeySet } = {};
  private stale?: { uat: number; keys: JWTVerifyGetKey };
  private failure?: { at: number; error: unknown };
  private readonly tuning: Required<JwksTuning>;
  /** The URL without credentials or query, for log lines. */
  readonly endpoint: string;

  constructor(url: string, tuning: JwksTuning = {}) {
    this.tuning = { ...JWKS_DEFAULTS, ...tuning };
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      throw new Error(
        'auth.jwt.jwksUrl: must not carry credentials (user:password@); fetch refuses such URLs',
      );
    }
    this.endpoint = `${parsed.origin}${parsed.pathname}`;
    this.remote = createRemoteJWKSet(parsed, {
      timeoutDuration: this.tuning.timeoutMs,
      cooldownDuration: this.tuning.cooldownMs,
      cacheMaxAge: this.tuning.maxAgeMs,
      [jwksCache]: this.cache as Record<string, never>,
    });
  }

  /** The resolver `jwtVerify` calls with the token's header. */
  readonly getKey = async (
    header: CompactJWSHeaderParameters,
    token: FlattenedJWSInput,
  ) => {
    const failure = this.failure;
    const stale = this.staleKeys();
    if (failure && stale && Date.now() - failure.at < this.tuning.cooldownMs) {
      // The server failed a moment ago: do not make this handshake wait for it again. (Without
      // keys at hand every handshake asks again; jose shares one fetch between concurrent ones.)
      return this.fromStale(stale, header, token, failure.error);
    }
    try {
      const key = await this.remote(header, token);
      this.failure = undefined;
      return key;
    } catch (err) {
      if (isAboutTheToken(err)) throw err;
      this.failure = { at: Date.now(), error: err };
      const keys = this.staleKeys();
      if (!keys) throw new JwksUnavailableError(this.endpoint, err);
      return this.fromStale(keys, header, token, err);
    }
  };

  /** The last key set fetched, while it is recent enough to stand in for a failing server. */
  private staleKeys(): JWTVerifyGetKey | undefined {
    const { uat, jwks } = this.cache;
    if (uat === undefined || jwks === undefined) return undefined;
    if (Date.now() - uat >= this.tuning.staleIfErrorMs) return undefined;
    if (this.stale?.uat !== uat) {
      this.stale = { uat, keys: createLocalJWKSet(jwks) };
    }
    return this.stale.keys;
  }

  private async fromStale(
    keys: JWTVerifyGetKey,
    header: CompactJWSHeaderParameters,
    token: FlattenedJWSInput,
    cause: unknown,
  ) {
    try {
      return await keys(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      // An unknown kid may be a key published since: only the server can say.
      throw new JwksUnavailableError(this.endpoint, cause);
    }
  }
}
