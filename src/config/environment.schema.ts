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
  NotContains,
  ValidateBy,
} from 'class-validator';
import {
  CHANNEL_PREFIX_RULE,
  CHANNEL_PREFIX_SEPARATOR,
} from '../gateway/bus/channels.js';
import { isProxyAddressOrBlock } from '../gateway/admission/client-address.js';
import {
  isRoomGrant,
  ROOM_GRANT_RULE,
} from '../gateway/rooms/grant-room-policy.js';

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

/**
 * The environment variables the service reads (docs/configuration.md). Every one is optional;
 * the defaults serve `npm run start` on one machine.
 */
export class EnvironmentVariables {
  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must be between 0 and 65535' })
  @Max(65535, { message: 'must be between 0 and 65535' })
  PORT?: number;

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  HOST?: string;

  @IsOptional()
  @Matches(/^\/[\w\-./~%]*$/, {
    message: 'must be a URL path starting with "/"',
  })
  WS_PATH?: string;

  @IsOptional()
  @Matches(/^[^\s,]+(,[^\s,]+)*$/, {
    message:
      'must be a comma-separated list of tokens without spaces or empty entries',
  })
  AUTH_TOKENS?: string;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  AUTH_DISABLED?: boolean;

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  AUTH_JWT_SECRET?: string;

  @IsOptional()
  @Matches(/-----BEGIN (RSA |EC )?PUBLIC KEY-----/, {
    message:
      'must be a PEM public key (-----BEGIN PUBLIC KEY-----...; \\n for newlines)',
  })
  AUTH_JWT_PUBLIC_KEY?: string;

  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, {
    message: 'must be an http:// or https:// URL',
  })
  AUTH_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  AUTH_JWT_ISSUER?: string;

  @IsOptional()
  @Matches(/^[^\s,]+(,[^\s,]+)*$/, {
    message: 'must be a comma-separated list of audiences without spaces',
  })
  AUTH_JWT_AUDIENCE?: string;

  @IsOptional()
  @Matches(/^(\*|[^\s,]+(,[^\s,]+)*)$/, {
    message:
      'must be * or a comma-separated list of origins (https://app.example.com)',
  })
  ALLOWED_ORIGINS?: string;

  @IsOptional()
  @ValidateBy(
    { name: 'isProxyList', validator: { validate: isProxyList } },
    {
      message:
        'must be a comma-separated list of IP addresses or CIDR blocks (10.0.0.0/8) without spaces',
    },
  )
  TRUSTED_PROXIES?: string;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  MAX_CONNECTIONS?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must not be negative (0 turns the cap off)' })
  MAX_CONNECTIONS_PER_PRINCIPAL?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must not be negative (0 turns the cap off)' })
  MAX_CONNECTIONS_PER_ADDRESS?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  RATE_LIMIT_PER_SEC?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  RATE_LIMIT_BURST?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1, { message: 'must be at least 1' })
  RATE_LIMIT_BYTES_PER_SEC?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1, { message: 'must be at least 1' })
  RATE_LIMIT_BYTES_BURST?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1, { message: 'must be at least 1' })
  RATE_LIMIT_FANOUT_BYTES_PER_SEC?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1024, { message: 'must be at least 1024 bytes' })
  MAX_BUFFERED_BYTES?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(0, { message: 'must not be negative (0 turns heartbeats off)' })
  WS_HEARTBEAT_MS?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(1000, { message: 'must be at least 1000' })
  HANDSHAKE_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  WS_PERMESSAGE_DEFLATE?: boolean;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1, { message: 'must be at least 1 byte' })
  @Max(256 * 1024 * 1024, { message: 'must be at most 268435456 (256 MiB)' })
  WS_MAX_PAYLOAD?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 1000' })
  @Max(1000, { message: 'must be between 1 and 1000' })
  WS_MAX_DEPTH?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(0, { message: 'must not be negative' })
  SHUTDOWN_DRAIN_MS?: number;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(0, { message: 'must not be negative' })
  WS_CLOSE_GRACE_MS?: number;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, {
    message: 'must be a redis:// or rediss:// URL',
  })
  REDIS_URL?: string;

  @IsOptional()
  @Matches(/^[\w.:@/-]{0,64}$/, {
    message: 'must be at most 64 characters of A-Z a-z 0-9 _ - . : @ /',
  })
  // The alphabet above leaves the separator out already; this says why it must stay out.
  @NotContains(CHANNEL_PREFIX_SEPARATOR, { message: CHANNEL_PREFIX_RULE })
  REDIS_CHANNEL_PREFIX?: string;

  @IsOptional()
  @Transform(toInteger)
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be between 1 and 10000' })
  @Max(10_000, { message: 'must be between 1 and 10000' })
  MAX_ROOMS_PER_CONNECTION?: number;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  ROOM_ACL?: boolean;

  @IsOptional()
  @Matches(/^\S{1,256}$/, {
    message: 'must be a claim name of at most 256 characters without spaces',
  })
  @OnlyWithRoomAcl()
  ROOM_ACL_CLAIM?: string;

  @IsOptional()
  @RoomGrantList()
  @OnlyWithRoomAcl()
  ROOM_ACL_GRANTS?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: LogLevel;

  @IsOptional()
  @IsIn(LOG_FORMATS, { message: `must be one of ${LOG_FORMATS.join(', ')}` })
  LOG_FORMAT?: LogFormat;
}
