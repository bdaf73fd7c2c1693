import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { ConsoleRole } from '../../protocol/console.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { TOKEN_VERIFIER, type TokenVerifier } from '../auth/token-verifier.js';
import { GATEWAY_OPTIONS } from '../gateway-options.token.js';
import type { ResolvedGatewayOptions } from '../gateway.options.js';
import {
  CONSOLE_ROLES,
  type ResolvedConsoleOptions,
} from './console-options.js';
import { LoginThrottle } from './login-throttle.js';

/** The console session's cookie. */
export const SESSION_COOKIE = 'gw_console';
/** The header a cookie session's state-changing requests carry its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** Who is using the console, and how they proved it. */
export interface ConsoleUser {
  readonly name: string;
  readonly role: ConsoleRole;
  /** `cookie`: a browser's session, whose actions need the CSRF token. */
  readonly via: 'cookie' | 'bearer';
  /** When the session (or the JWT) ends, in ms since the epoch. */
  readonly expiresAt?: number;
  /** The cookie's value, for a cookie session. */
  readonly session?: string;
}

/** A successful login: the session's cookie value and what the page is told. */
export interface ConsoleLogin {
  readonly user: ConsoleUser;
  readonly cookie: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

/** Thrown for a login refused by the throttle; the HTTP layer adds `Retry-After`. */
export class LoginThrottledError extends GatewayError {
  constructor(readonly retryAfterSec: number) {
    super(
      ErrorCode.RATE_LIMITED,
      `too many failed logins from this address; try again in ${retryAfterSec} s`,
    );
  }
}

/** Logged-out sessions remembered at once. */
const MAX_REVOKED = 10_000;

const digest = (value: string): Buffer =>
  createHash('sha256').update(value).digest();

const base64url = (value: Buffer | string): string =>
  Buffer.from(value).toString('base64url');

/** A JWT's shape: three base64url parts; never a console secret's (those have no dots). */
const looksLikeJwt = (token: string): boolean =>
  /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);

/** The value of a cookie in a `Cookie` header, or undefined. */
export function cookieValue(
  header: string | undefined,
  name: string,
): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name)
      return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Who may use the web console: its own logins (`name:role:secret`, never the clients' tokens),
 * or a JWT with the console's role claim; the throttle on failed logins; and the session
 * cookie, signed (HMAC-SHA256) with a key derived from the console's credentials, so that every
 * instance with the same configuration accepts it and a change of credentials ends every session.
 */
@Injectable()
export class ConsoleAccess {
  private readonly logger = new Logger('Console');
  private readonly secrets = new Map<
    string,
    { name: string; role: ConsoleRole }
  >();
  private readonly key: Buffer;
  private readonly throttle = new LoginThrottle();
  /** Sessions logged out before they expired, by {@link sessionId}, until they expire. */
  private readonly revoked = new Map<string, number>();
  readonly options?: ResolvedConsoleOptions;

  constructor(
    @Inject(GATEWAY_OPTIONS) gateway: ResolvedGatewayOptions,
    @Inject(TOKEN_VERIFIER) private readonly verifier: TokenVerifier,
  ) {
    this.options = gateway.console;
    const material: string[] = [];
    for (const { name, role, secret } of this.options?.credentials ?? []) {
      this.secrets.set(digest(secret).toString('hex'), { name, role });
      material.push(`${name}:${role}:${secret}`);
    }
    if (gateway.auth.jwt?.secret)
      material.push(`jwt:${gateway.auth.jwt.secret}`);
    // Without secret material of its own (JWT logins checked by a public key), sessions are
    // signed by a key of this process: valid on this instance, until it restarts.
    this.key =
      material.length > 0
        ? createHmac('sha256', 'nest-ws-gateway console session')
            .update(material.sort().join('\n'))
            .digest()
        : randomBytes(32);
  }

  /** Whether the console is on. */
  get enabled(): boolean {
    return this.options !== undefined;
  }

  /**
   * Logs in with a console secret or a JWT, from `address`; rejects with `UNAUTHORIZED` (the
   * failure counted), or {@link LoginThrottledError} while the address is throttled.
   */
  async login(
    token: unknown,
    address: string,
    now = Date.now(),
  ): Promise<ConsoleLogin> {
    const options = this.requireEnabled();
    const wait = this.throttle.retryAfterSec(address, now);
    if (wait > 0) throw new LoginThrottledError(wait);
    const found =
      typeof token === 'string' && token.length > 0 && token.length <= 8192
        ? await this.identify(token)
        : undefined;
    if (!found) {
      this.throttle.failed(address, now);
      throw GatewayError.unauthorized('wrong console secret');
    }
    const expiresAt = Math.min(
      now + options.sessionTtlMs,
      found.expiresAt ?? Infinity,
    );
    // The nonce tells two sessions of one user apart: a logout ends only its own.
    const cookie = this.sign({
      u: found.name,
      r: found.role,
      e: expiresAt,
      n: randomBytes(9).toString('base64url'),
    });
    return {
      user: {
        name: found.name,
        role: found.role,
        via: 'cookie',
        expiresAt,
        session: cookie,
      },
      cookie,
      csrf: this.csrfOf(cookie),
      expiresAt,
    };
  }

  /**
   * The user of a request from `address`: its session cookie, or `Authorization: Bearer <secret
   * or JWT>`; undefined when neither proves anyone. A bearer credential is a login at every
   * request: a wrong one counts as a failed login of the address, and while the address is
   * throttled every bearer credential from it is refused with {@link LoginThrottledError}, or
   * guessing secrets would cost nothing through the API. A session cookie is never throttled.
   */
  async authenticate(
    headers: { cookie?: string; authorization?: string },
    address: string,
    now = Date.now(),
  ): Promise<ConsoleUser | undefined> {
    if (!this.enabled) return undefined;
    const authorization = headers.authorization;
    if (authorization !== undefined) {
      const wait = this.throttle.retryAfterSec(address, now);
      if (wait > 0) throw new LoginThrottledError(wait);
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      const found = match ? await this.identify(match[1]) : undefined;
      if (found && (found.expiresAt ?? Infinity) > now)
        return {
          name: found.name,
          role: found.role,
          via: 'bearer',
          expiresAt: found.expiresAt,
        };
      this.throttle.failed(address, now);
      return undefined;
    }
    const session = cookieValue(headers.cookie, SESSION_COOKIE);
    return session ? this.fromSession(session, now) : undefined;
  }

  /** The CSRF token of a cookie session: the page reads it from the login or session answer. */
  csrfOf(session: string): string {
    return base64url(
      createHmac('sha256', this.key).update(`csrf.${session}`).digest(),
    );
  }

  /**
   * Whether a state-changing request of `user` may go ahead: a cookie session must show its
   * CSRF token (a cross-site page can make the browser send the cookie, not read the token).
   */
  csrfValid(user: ConsoleUser, header: string | undefined): boolean {
    if (user.via === 'bearer') return true;
    if (!user.session || typeof header !== 'string') return false;
    const expected = Buffer.from(this.csrfOf(user.session));
    const given = Buffer.from(header);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private requireEnabled(): ResolvedConsoleOptions {
    if (!this.options) throw GatewayError.forbidden('the console is off');
    return this.options;
  }

  private async identify(
    token: string,
  ): Promise<
    { name: string; role: ConsoleRole; expiresAt?: number } | undefined
  > {
    const static_ = this.secrets.get(digest(token).toString('hex'));
    if (static_) return static_;
    const claim = this.options?.jwtRoleClaim;
    if (!claim || !looksLikeJwt(token)) return undefined;
    try {
      const principal = await this.verifier.verify(token);
      const role = principal?.claims?.[claim];
      if (!principal || !CONSOLE_ROLES.includes(role as ConsoleRole))
        return undefined;
      return {
        name: principal.subject,
        role: role as ConsoleRole,
        expiresAt: principal.expiresAt,
      };
    } catch (err) {
      // A verifier that fails (JWKS away) is not a wrong secret, but the login still fails.
      this.logger.warn({ err }, 'console JWT could not be verified');
      return undefined;
    }
  }

  /**
   * What a session is known by once it is logged out: a digest, so that no live credential is
   * kept, logged or published.
   */
  sessionId(session: string): string {
    return createHash('sha256').update(session).digest('base64url');
  }

  /** Refuses the session `id` from now until `expiresAt` (a logout, here or elsewhere). */
  revoke(id: string, expiresAt: number, now = Date.now()): void {
    for (const [known, until] of this.revoked)
      if (until <= now) this.revoked.delete(known);
    if (expiresAt <= now) return;
    // Bounded: past it the oldest logout is forgotten (its session may work again until it
    // expires), rather than memory growing with every logout.
    if (this.revoked.size >= MAX_REVOKED) {
      const oldest = this.revoked.keys().next().value;
      if (oldest !== undefined) this.revoked.delete(oldest);
    }
    this.revoked.set(id, expiresAt);
  }

  private sign(payload: {
    u: string;
    r: ConsoleRole;
    e: number;
    n: string;
  }): string {
    const body = base64url(JSON.stringify(payload));
    return `${body}.${base64url(createHmac('sha256', this.key).update(body).digest())}`;
  }

  private fromSession(session: string, now: number): ConsoleUser | undefined {
    const dot = session.indexOf('.');
    if (dot <= 0 || session.length > 1024) return undefined;
    const body = session.slice(0, dot);
    const expected = createHmac('sha256', this.key).update(body).digest();
    const given = Buffer.from(session.slice(dot + 1), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return undefined;
    let payload: { u?: unknown; r?: unknown; e?: unknown };
    try {
      payload = JSON.parse(
        Buffer.from(body, 'base64url').toString(),
      ) as typeof payload;
    } catch {
      return undefined;
    }
    const { u, r, e } = payload;
    if (
      typeof u !== 'string' ||
      !CONSOLE_ROLES.includes(r as ConsoleRole) ||
      typeof e !== 'number' ||
      e <= now ||
      (this.revoked.size > 0 && this.revoked.has(this.sessionId(session)))
    )
      return undefined;
    return {
      name: u,
      role: r as ConsoleRole,
      via: 'cookie',
      expiresAt: e,
      session,
    };
  }
}
