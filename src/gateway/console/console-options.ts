import type { ConsoleRole } from '../../protocol/console.js';

export const CONSOLE_ROLES: readonly ConsoleRole[] = ['admin', 'viewer'];

/** One console login: who (for the audit log), the role, and the secret typed at the login. */
export interface ConsoleCredential {
  readonly name: string;
  readonly role: ConsoleRole;
  readonly secret: string;
}

/** The web console at `/console` (see docs/console.md); off unless it has a way to log in. */
export interface GatewayConsoleOptions {
  /**
   * Console logins, as `name:role:secret` entries: a list, or one comma-separated string (the
   * form of `CONSOLE_TOKENS`). A secret is at least {@link MIN_CONSOLE_SECRET_LENGTH} characters.
   */
  tokens?: string | readonly string[];
  /**
   * With JWT authentication (`auth.jwt` or `auth.verifier`): the claim whose value, `admin` or
   * `viewer`, lets a JWT log in to the console. Unset: JWTs never open it.
   */
  jwtRoleClaim?: string;
  /** How long a console session lasts. Default 8 h. */
  sessionTtlMs?: number;
  /** How often each instance publishes its numbers to the consoles. Default 2 s. */
  statsIntervalMs?: number;
}

/** The console's options, resolved; only present when the console is on. */
export interface ResolvedConsoleOptions {
  readonly credentials: readonly ConsoleCredential[];
  readonly jwtRoleClaim?: string;
  readonly sessionTtlMs: number;
  readonly statsIntervalMs: number;
}

export const MIN_CONSOLE_SECRET_LENGTH = 16;

const NAME = /^[\w.@-]{1,64}$/;

/** Why one `name:role:secret` entry cannot be a login, or undefined when it can. */
function entryProblem(entry: string): string | undefined {
  const first = entry.indexOf(':');
  const second = entry.indexOf(':', first + 1);
  if (first < 0 || second < 0) return 'is not name:role:secret';
  const name = entry.slice(0, first);
  const role = entry.slice(first + 1, second);
  const secret = entry.slice(second + 1);
  if (!NAME.test(name))
    return 'has a name that is not 1-64 letters, digits, ".", "_", "@" or "-"';
  // The role is not quoted: a role that is not one may be a secret written in its place.
  if (!CONSOLE_ROLES.includes(role as ConsoleRole))
    return 'has a role that is not admin or viewer';
  if (secret.length < MIN_CONSOLE_SECRET_LENGTH)
    return `has a secret shorter than ${MIN_CONSOLE_SECRET_LENGTH} characters`;
  return undefined;
}

/**
 * Whether an entry's first field is in a name's place, so that a problem may quote it: the entry
 * has a name, a role and a secret, in that order. Otherwise the first field may be a secret
 * (`secret:role`), or a piece of one that a comma split.
 */
function namesItself(entry: string): boolean {
  const [name, role, ...secret] = entry.split(':');
  return (
    secret.length > 0 &&
    NAME.test(name) &&
    CONSOLE_ROLES.includes(role as ConsoleRole)
  );
}

/**
 * The credentials of `tokens`, and the problems that stop the boot. The problems name an entry
 * by its position and name, never by its secret, since boot errors are logged.
 */
export function parseConsoleCredentials(tokens: unknown): {
  credentials: ConsoleCredential[];
  problems: string[];
} {
  const credentials: ConsoleCredential[] = [];
  const problems: string[] = [];
  if (tokens === undefined) return { credentials, problems };
  const entries =
    typeof tokens === 'string'
      ? tokens.split(',')
      : Array.isArray(tokens)
        ? (tokens as unknown[])
        : undefined;
  if (!entries) {
    problems.push('console.tokens: must be name:role:secret entries');
    return { credentials, problems };
  }
  const names = new Set<string>();
  const secrets = new Set<string>();
  entries.forEach((entry, index) => {
    if (typeof entry !== 'string') {
      problems.push(`console.tokens: entry ${index + 1} is not a string`);
      return;
    }
    const problem = entryProblem(entry);
    const name = entry.slice(0, Math.max(0, entry.indexOf(':')));
    if (problem) {
      problems.push(
        `console.tokens: entry ${index + 1}${namesItself(entry) ? ` (${name})` : ''} ${problem}`,
      );
      return;
    }
    const [, role] = entry.split(':', 2);
    const secret = entry.slice(entry.indexOf(':', name.length + 1) + 1);
    if (names.has(name))
      problems.push(`console.tokens: the name ${name} is given twice`);
    if (secrets.has(secret))
      problems.push(
        `console.tokens: entry ${index + 1} (${name}) has the secret of another entry`,
      );
    names.add(name);
    secrets.add(secret);
    credentials.push({ name, role: role as ConsoleRole, secret });
  });
  return { credentials, problems };
}
