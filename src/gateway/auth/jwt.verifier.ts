import { Logger } from '@nestjs/common';
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { GatewayJwtOptions } from '../gateway.options.js';
import {
  JwksKeySource,
  JwksUnavailableError,
  type JwksTuning,
} from './jwks-key-source.js';
import type { Principal } from './principal.js';
import type { TokenVerifier } from './token-verifier.js';

/** Clock skew allowed for `exp` and `nbf` when the options name none, in seconds. */
export const DEFAULT_JWT_CLOCK_TOLERANCE_SEC = 5;

/** The algorithms a {@link JwtVerifier} can be configured for. */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

/** The subject of a token that names neither a `sub` nor a `client_id`. */
export const JWT_FALLBACK_SUBJECT = 'jwt';

/** RFC 7518 section 3.2: an HS256 key must be at least as long as the hash, 256 bits. */
const MIN_SECRET_BYTES = 32;

/** The one algorithm a PEM public key can verify: RS256 for RSA (2048 bits or more), ES256 for P-256. */
function algorithmOf(key: KeyObject): JwtAlgorithm {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) {
      throw new Error(
        `auth.jwt.publicKey: an RSA key of ${details.modulusLength} bits; RS256 needs 2048 or more`,
      );
    }
    return 'RS256';
  }
  if (type === 'ec' && details.namedCurve === 'prime256v1') return 'ES256';
  const what = details.namedCurve ? `${type} (${details.namedCurve})` : type;
  throw new Error(
    `auth.jwt.publicKey: a key of type ${what}; only RSA (RS256) and EC P-256 (ES256) keys are supported`,
  );
}

function publicKeyOf(pem: string): KeyObject {
  // createPublicKey would quietly derive the public half of a private key: refuse to hold one.
  if (/PRIVATE KEY-----/.test(pem)) {
    throw new Error(
      'auth.jwt.publicKey: this is a private key; give the public key (-----BEGIN PUBLIC KEY-----)',
    );
  }
  try {
    return createPublicKey(pem);
  } catch (err) {
    throw new Error(
      `auth.jwt.publicKey: not a PEM public key (${(err as Error).message})`,
    );
  }
}

/** Adds each space-separated word of a string claim (`scope`, RFC 8693). */
function addWords(into: Set<string>, claim: unknown): void {
  if (typeof claim !== 'string') return;
  for (const word of claim.split(/\s+/)) if (word) into.add(word);
}

/** Adds each string of an array claim (`scp` as some issuers send it, `roles`). */
function addList(into: Set<string>, claim: unknown): void {
  if (!Array.isArray(claim)) return;
  for (const item of claim as unknown[]) {
    if (typeof item === 'string' && item) into.add(item);
  }
}

/** The principal's scopes: `scope` and `scp` (a space-separated string or a list) and `roles`. */
export function scopesOf(payload: JWTPayload): string[] {
  const scopes = new Set<string>();
  addWords(scopes, payload.scope);
  addWords(scopes, payload.scp);
  addList(scopes, payload.scp);
  addList(scopes, payload.roles);
  return [...scopes];
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * Verifies JWTs with `jose`, against exactly one key source: an HS256 `secret`, a PEM
 * `publicKey` (RS256 for an RSA key, ES256 for an EC P-256 key: the key decides, and it is the
 * only algorithm accepted), or a `jwksUrl` (RS256 and ES256 keys, fetched and cached by
 * {@link JwksKeySource}). The algorithm list is pinned, so `none` and HS/RS confusion are refused.
 *
 * A token must carry `exp`; `exp` and `nbf` are checked with `clockToleranceSec` of leeway, and
 * `iss` and `aud` when configured. The principal's subject is `sub`, else `client_id`, else
 * `jwt`; its scopes come from `scope`, `scp` and `roles`; it expires at `exp` plus the tolerance.
 *
 * An invalid token gives `null` (401); a key server that cannot be reached throws (503).
 */
export class JwtVerifier implements TokenVerifier {
  /** The algorithms a token may be signed with. */
  readonly algorithms: readonly JwtAlgorithm[];
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;
  private readonly toleranceMs: number;

  constructor(jwt: GatewayJwtOptions, jwks: JwksTuning = {}) {
    const { secret, publicKey, jwksUrl } = jwt;
    const sources = [secret, publicKey, jwksUrl].filter(nonEmpty).length;
    if (sources !== 1) {
      throw new Error(
        'auth.jwt: give exactly one of secret, publicKey, jwksUrl',
      );
    }
    if (nonEmpty(secret)) {
      this.key = new TextEncoder().encode(secret);
      this.algorithms = ['HS256'];
      if (this.key.length < MIN_SECRET_BYTES) {
        new Logger('Gateway').warn(
          `auth.jwt.secret is ${this.key.length} bytes; HS256 wants at least ${MIN_SECRET_BYTES} random bytes`,
        );
      }
    } else if (nonEmpty(publicKey)) {
      const key = publicKeyOf(publicKey);
      this.key = key;
      this.algorithms = [algorithmOf(key)];
    } else {
      this.key = new JwksKeySource(jwksUrl!, jwks).getKey;
      this.algorithms = ['RS256', 'ES256'];
    }
    const tolerance = jwt.clockToleranceSec ?? DEFAULT_JWT_CLOCK_TOLERANCE_SEC;
    this.toleranceMs = tolerance * 1000;
    this.options = {
      algorithms: [...this.algorithms],
      issuer: jwt.issuer,
      // An empty list is no list: it would refuse every token.
      audience: jwt.audience?.length ? [...jwt.audience] : undefined,
      clockTolerance: tolerance,
      // A bearer credential that never expires could never be closed with 4401.
      requiredClaims: ['exp'],
    };
  }

  async verify(token: string): Promise<Principal | null> {
    try {
      return this.principalOf(await this.check(token, this.key));
    } catch (err) {
      if (err instanceof errors.JWKSMultipleMatchingKeys) {
        return this.verifyWithEach(token, err);
      }
      return this.invalidOrThrow(err);
    }
  }

  private async check(
    token: string,
    key: Uint8Array | KeyObject | JWTVerifyGetKey | CryptoKey,
  ): Promise<JWTPayload> {
    // The overloads of jwtVerify take a key or a resolver, not the union of both.
    const { payload } = await jwtVerify(
      token,
      key as JWTVerifyGetKey,
      this.options,
    );
    return payload;
  }

  /** A key set with several keys fitting a token without `kid`: the token may match any. */
  private async verifyWithEach(
    token: string,
    candidates: errors.JWKSMultipleMatchingKeys,
  ): Promise<Principal | null> {
    for await (const key of candidates) {
      try {
        return this.principalOf(await this.check(token, key));
      } catch (err) {
        if (err instanceof errors.JWSSignatureVerificationFailed) continue;
        return this.invalidOrThrow(err);
      }
    }
    return null;
  }

  /** jose's errors are about the token (401), except that the key server failed (503). */
  private invalidOrThrow(err: unknown): null {
    if (err instanceof JwksUnavailableError) throw err;
    if (err instanceof errors.JOSEError) return null;
    throw err;
  }

  private principalOf(payload: JWTPayload): Principal {
    const clientId = payload.client_id;
    return {
      subject: nonEmpty(payload.sub)
        ? payload.sub
        : nonEmpty(clientId)
          ? clientId
          : JWT_FALLBACK_SUBJECT,
      scopes: scopesOf(payload),
      // The tolerance that let the token in also keeps it in: it is the issuer's clock, not ours.
      expiresAt: payload.exp! * 1000 + this.toleranceMs,
      claims: payload,
    };
  }
}
