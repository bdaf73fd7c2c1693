import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
} from 'class-validator';
import { isProxyAddressOrBlock } from '../gateway/admission/client-address.js';
import { parseConsoleCredentials } from '../gateway/console/console-options.js';
import {
  isRoomGrant,
  ROOM_GRANT_RULE,
} from '../gateway/rooms/grant-room-policy.js';
import {
  GATEWAY_SETTINGS,
  type GatewaySetting,
  type IntSetting,
} from '../gateway/settings.js';

/** Log levels pino understands, from the most to the least verbose. */
export const LOG_LEVELS = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Defaults of the service's own settings (server.config.ts, logging.config.ts). */
export const SERVICE_DEFAULTS = Object.freeze({
  /** The python-websockets tutorial's port. */
  port: 8765,
  host: '0.0.0.0',
  handshakeTimeoutMs: 10_000,
  logLevel: 'info' satisfies LogLevel,
});

/** One row of the environment table in docs/configuration.md. */
export interface VariableDoc {
  readonly name: string;
  /** Markdown. */
  readonly default: string;
  /** Markdown, one line. */
  readonly meaning: string;
}

const code = (value: unknown): string => `\`${String(value)}\``;

/** The documentation rows, in the order the variables are declared. */
export const VARIABLE_DOCS: VariableDoc[] = [];

/** Declares the documentation of a variable next to its checks. */
const Documented =
  (defaultText: string, meaning: string): PropertyDecorator =>
  (_target, name) => {
    VARIABLE_DOCS.push({ name: String(name), default: defaultText, meaning });
  };

// Environment values are strings; a failed conversion stays a string so that the
// validator reports the value the operator typed instead of a silent NaN or false.
const toInteger = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim())
    ? Number(value.trim())
    : value;

const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};

const isProxyList = (value: unknown): boolean =>
  typeof value === 'string' && value.split(',').every(isProxyAddressOrBlock);

/** Refuses a setting of the room ACL while the ACL is off, where it would silently do nothing. */
const OnlyWithRoomAcl = () =>
  ValidateBy({
    name: 'onlyWithRoomAcl',
    validator: {
      validate: (_value, args) =>
        (args?.object as EnvironmentVariables | undefined)?.ROOM_ACL === true,
      defaultMessage: () => 'only applies with ROOM_ACL=true',
    },
  });

const RoomGrantList = () =>
  ValidateBy({
    name: 'roomGrantList',
    validator: {
      validate: (value) =>
        typeof value === 'string' && value.split(',').every(isRoomGrant),
      defaultMessage: () =>
        `must be a comma-separated list of grants (join:lobby,publish:chat/*); each ${ROOM_GRANT_RULE}`,
    },
  });

/** The console's logins: the message names what is wrong with each entry, never a secret. */
const ConsoleTokenList = () =>
  ValidateBy({
    name: 'consoleTokenList',
    validator: {
      validate: (value) =>
        typeof value === 'string' &&
        parseConsoleCredentials(value).problems.length === 0,
      defaultMessage: (args) =>
        `must be comma-separated name:role:secret entries (role admin or viewer, secret of 16 characters or more): ${parseConsoleCredentials(
          args?.value,
        )
          .problems.map((p) => p.replace(/^console\.tokens: /, ''))
          .join('; ')}`,
    },
  });

/**
 * The environment variables that are not one setting of the table in `gateway/settings.ts`:
 * the service's own, and those the gateway config turns into options by code (tokens, JWT,
 * lists, the Redis URL, room permissions). The table's variables are added below, from the
 * table.
 */
export class EnvironmentSchema {
  @Documented(
    code(SERVICE_DEFAULTS.port),
    "HTTP and WebSocket port (the tutorial's)",
  )
  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be between 0 and 65535' })
  @Max(65535, { message: 'must be between 0 and 65535' })
  PORT?: number;

  @Documented(code(SERVICE_DEFAULTS.host), 'bind address')
  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  HOST?: string;

  @Documented('generated', 'comma-separated static tokens')
  @IsOptional()
  @Matches(/^[^\s,]+(,[^\s,]+)*$/, {
    message:
      'must be a comma-separated list of tokens without spaces or empty entries',
  })
  AUTH_TOKENS?: string;

  @Documented(
    'unset',
    'JWTs signed with this HS256 secret are accepted (one of three key sources, see [JWTs](#jwts))',
  )
  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  AUTH_JWT_SECRET?: string;

  @Documented(
    'unset',
    'PEM public key (`-----BEGIN PUBLIC KEY-----…`): RSA for RS256, EC P-256 for ES256; `\\n` may stand for newlines',
  )
  @IsOptional()
  @Matches(/-----BEGIN (RSA |EC )?PUBLIC KEY-----/, {
    message:
      'must be a PEM public key (-----BEGIN PUBLIC KEY-----...; \\n for newlines)',
  })
  AUTH_JWT_PUBLIC_KEY?: string;

  @Documented(
    'unset',
    '`http(s)://` URL of a JSON Web Key Set (RS256, ES256 keys), cached and refetched',
  )
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, {
    message: 'must be an http:// or https:// URL',
  })
  AUTH_JWKS_URL?: string;

  @Documented('unset', 'required `iss` of every JWT')
  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  AUTH_JWT_ISSUER?: string;

  @Documented(
    'unset',
    'comma-separated accepted `aud` values; a JWT needs one of them',
  )
  @IsOptional()
  @Matches(/^[^\s,]+(,[^\s,]+)*$/, {
    message: 'must be a comma-separated list of audiences without spaces',
  })
  AUTH_JWT_AUDIENCE?: string;

  @Documented(
    'any',
    'comma-separated `Origin` allow-list (`https://app.example.com`); another `Origin` gets 403 at the handshake; `*` means any',
  )
  @IsOptional()
  @Matches(/^(\*|[^\s,]+(,[^\s,]+)*)$/, {
    message:
      'must be * or a comma-separated list of origins (https://app.example.com)',
  })
  ALLOWED_ORIGINS?: string;

  @Documented(
    'none',
    'comma-separated IP addresses or CIDR blocks of reverse proxies whose `X-Forwarded-For` is believed (see [Logs](operations.md#logs))',
  )
  @IsOptional()
  @ValidateBy(
    { name: 'isProxyList', validator: { validate: isProxyList } },
    {
      message:
        'must be a comma-separated list of IP addresses or CIDR blocks (10.0.0.0/8) without spaces',
    },
  )
  TRUSTED_PROXIES?: string;

  @Documented(
    code(SERVICE_DEFAULTS.handshakeTimeoutMs),
    'time to send the HTTP request (headers and all) before 408 and close: slowloris protection',
  )
  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(1000, { message: 'must be at least 1000' })
  HANDSHAKE_TIMEOUT_MS?: number;

  @Documented(
    'unset',
    'set (`redis://[:password@]host:port[/db]`, `rediss://` for TLS): fan out across instances through Redis; unset: in memory, one instance',
  )
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, {
    message: 'must be a redis:// or rediss:// URL',
  })
  REDIS_URL?: string;

  @Documented(
    code(false),
    '`true`: rooms are allowed by grants only (see [Room permissions](#room-permissions)); `false`: every principal may join and publish to every room',
  )
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  ROOM_ACL?: boolean;

  // The claim's default, check and doc come from the settings table; that it needs ROOM_ACL is
  // a relation between two variables, which the table does not express.
  @OnlyWithRoomAcl()
  ROOM_ACL_CLAIM?: string;

  @Documented(
    'unset',
    'comma-separated grants every principal has (`join:public/*,publish:public/hall`); only with `ROOM_ACL=true`',
  )
  @IsOptional()
  @RoomGrantList()
  @OnlyWithRoomAcl()
  ROOM_ACL_GRANTS?: string;

  @Documented(
    'none',
    "comma-separated JWT claims copied into a presence member's public `info` (`name,picture`); at most 1 KiB of JSON",
  )
  @IsOptional()
  @Matches(/^[^\s,]{1,256}(,[^\s,]{1,256})*$/, {
    message: 'must be a comma-separated list of claim names without spaces',
  })
  PRESENCE_INFO_CLAIMS?: string;

  @Documented(
    'unset (console off)',
    'comma-separated `name:role:secret` logins of the [web console](console.md) at `/console`; role `admin` or `viewer`, secret of 16 characters or more',
  )
  @IsOptional()
  @ConsoleTokenList()
  CONSOLE_TOKENS?: string;

  @Documented(
    'unset',
    'with JWT authentication: the claim (`console_role`) whose value `admin` or `viewer` lets a JWT log in to the [web console](console.md)',
  )
  @IsOptional()
  @Matches(/^[^\s,]{1,256}$/, { message: 'must be one claim name' })
  CONSOLE_JWT_ROLE_CLAIM?: string;

  @Documented(
    code(SERVICE_DEFAULTS.logLevel),
    `${LOG_LEVELS.slice(0, -1).map(code).join(', ')} or ${code(LOG_LEVELS.at(-1))}`,
  )
  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: LogLevel;

  @Documented(
    '`json` (`pretty` on a TTY)',
    '`json` lines, or `pretty` for people',
  )
  @IsOptional()
  @IsIn(LOG_FORMATS, { message: `must be one of ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT?: LogFormat;
}

function intRule(setting: IntSetting) {
  const rule = setting.envRule ?? {};
  const min = rule.min ?? setting.min;
  const max: number | undefined = rule.max ?? setting.max;
  const between =
    max === undefined ? undefined : `must be between ${min} and ${max}`;
  return {
    min,
    max,
    integer: rule.unit
      ? `must be an integer number of ${rule.unit}`
      : 'must be an integer',
    minMessage:
      rule.minMessage ??
      between ??
      (min === 0 ? 'must not be negative' : `must be at least ${min}`),
    maxMessage: rule.maxMessage ?? between ?? `must be at most ${max}`,
  };
}

/** Adds a setting's variable to the schema, as the decorators above would. */
function declareVariable(setting: GatewaySetting & { env: string }): void {
  const target = EnvironmentSchema.prototype;
  const name = setting.env;
  // Applied in the order decorators written above the property would be.
  const decorators: PropertyDecorator[] = [];
  if (setting.kind === 'int') {
    const rule = intRule(setting);
    if (rule.max !== undefined)
      decorators.push(Max(rule.max, { message: rule.maxMessage }));
    decorators.push(
      Min(rule.min, { message: rule.minMessage }),
      IsInt({ message: rule.integer }),
      Transform(toInteger) as PropertyDecorator,
    );
  } else if (setting.kind === 'string') {
    // Reversed, as decorators apply from the bottom up; each check has its own name so that
    // class-validator keeps every failed one's message.
    for (const [i, check] of [...setting.envChecks.entries()].reverse())
      decorators.push(
        ValidateBy(
          {
            name: `${name}#${i}`,
            validator: {
              validate: (value) =>
                typeof value === 'string' && check.valid(value),
            },
          },
          { message: check.message },
        ),
      );
  } else {
    decorators.push(
      IsBoolean({ message: 'must be true or false' }),
      Transform(toBoolean) as PropertyDecorator,
    );
  }
  decorators.push(IsOptional());
  for (const decorate of decorators) decorate(target, name);
  VARIABLE_DOCS.push({
    name,
    default: setting.docDefault ?? code(setting.default),
    meaning: setting.doc,
  });
}

for (const setting of GATEWAY_SETTINGS)
  if ('env' in setting) declareVariable(setting);

type TableSetting = (typeof GATEWAY_SETTINGS)[number];

/** The table's variables, parsed: numbers for integer settings, booleans for switches. */
export type SettingVariables = {
  [
    S in TableSetting as S extends { env: infer E extends string } ? E : never
  ]?: { int: number; boolean: boolean; string: string }[S['kind']];
};

/**
 * The environment variables the service reads (docs/configuration.md), parsed. Every one is
 * optional; the defaults serve `npm run start` on one machine.
 */
export type EnvironmentVariables = EnvironmentSchema & SettingVariables;
