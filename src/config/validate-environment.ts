import { plainToInstance } from 'class-transformer';
import {
  getMetadataStorage,
  validateSync,
  type ValidationError,
} from 'class-validator';
import {
  EnvironmentSchema,
  type EnvironmentVariables,
} from './environment.schema.js';

/** Thrown at boot when any environment variable is invalid; its message names every one. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigValidationError';
  }
}

// The schema's decorated properties are the only variables read; the rest of the environment
// (PATH, HOME, ...) is none of the gateway's business and is not copied.
const KNOWN_KEYS: ReadonlySet<string> = new Set(
  getMetadataStorage()
    .getTargetValidationMetadatas(EnvironmentSchema, '', true, false)
    .map((m) => m.propertyName),
);

/**
 * Variables that hold credentials: their problems never quote the value, since the boot error
 * is logged (and one bad entry would show the good ones with it).
 */
const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'AUTH_TOKENS',
  'AUTH_JWT_SECRET',
  'CONSOLE_TOKENS',
]);

function describe(
  error: ValidationError,
  raw: Record<string, unknown>,
): string {
  // Min and Max share one message; say it once.
  const reasons = [...new Set(Object.values(error.constraints ?? {}))].join(
    '; ',
  );
  if (SECRET_VARIABLES.has(error.property))
    return `${error.property}: ${reasons} (value not shown: it holds secrets)`;
  return `${error.property}: ${reasons} (got ${JSON.stringify(raw[error.property])})`;
}

/**
 * Parses and validates the environment. Empty values count as unset, as most deployment tools
 * write `VAR=` for "no value". Throws {@link ConfigValidationError} naming every bad variable.
 */
export function validateEnvironment(
  env: Record<string, unknown>,
): EnvironmentVariables {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (KNOWN_KEYS.has(key)) raw[key] = value;
  }
  const parsed = plainToInstance(EnvironmentSchema, raw);
  const errors = validateSync(parsed, {
    skipMissingProperties: false,
    forbidUnknownValues: false,
  });
  if (errors.length > 0) {
    throw new ConfigValidationError(errors.map((e) => describe(e, raw)));
  }
  return parsed as EnvironmentVariables;
}

/**
 * Validates the process environment before the application is built, so that a bad variable
 * ends the boot with one clean message instead of a stack trace from deep inside Nest.
 */
export function assertValidEnvironment(): void {
  validateEnvironment(process.env);
}
