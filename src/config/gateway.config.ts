import { randomBytes } from 'node:crypto';
import { registerAs, type ConfigType } from '@nestjs/config';
import type {
  GatewayAuthOptions,
  GatewayJwtOptions,
  GatewayOptions,
} from '../gateway/gateway.options.js';
import { GATEWAY_SETTINGS, writeOption } from '../gateway/settings.js';
import type { EnvironmentVariables } from './environment.schema.js';
import { validateEnvironment } from './validate-environment.js';

/** The module's options as the environment gives them, and the token generated for this run. */
export interface GatewayEnvironmentOptions extends GatewayOptions {
  auth: GatewayAuthOptions & {
    tokens: readonly string[];
    disabled: boolean;
    jwt?: GatewayJwtOptions;
    /** Set when nothing else authenticates: the service announces it once at boot. */
    generatedToken?: string;
  };
}

/**
 * Each variable of the settings table at its option path; unset ones are left out, and so are
 * those that apply only with another variable (mapped below, under their condition).
 */
function tableOptions(env: EnvironmentVariables): GatewayOptions {
  const options: GatewayOptions = {};
  for (const setting of GATEWAY_SETTINGS) {
    if (!('env' in setting) || 'onlyWith' in setting) continue;
    const value = env[setting.env];
    if (value !== undefined) writeOption(options, setting.option, value);
  }
  return options;
}

/**
 * The gateway's settings as the environment gives them. Unset values stay `undefined` so that
 * the library's own defaults (one place: `gateway/settings.ts`) apply.
 */
export const gatewayConfig = registerAs(
  'gateway',
  (): GatewayEnvironmentOptions => {
    const env = validateEnvironment(process.env);
    const table = tableOptions(env);
    const tokens = env.AUTH_TOKENS ? env.AUTH_TOKENS.split(',') : [];
    const disabled = table.auth?.disabled === true;
    const jwt =
      env.AUTH_JWT_SECRET || env.AUTH_JWT_PUBLIC_KEY || env.AUTH_JWKS_URL
        ? {
            secret: env.AUTH_JWT_SECRET,
            // Environment files cannot hold newlines easily: "\n" stands for one.
            publicKey: env.AUTH_JWT_PUBLIC_KEY?.replace(/\\n/g, '\n'),
            jwksUrl: env.AUTH_JWKS_URL,
            issuer: env.AUTH_JWT_ISSUER,
            audience: env.AUTH_JWT_AUDIENCE?.split(','),
          }
        : undefined;
    // Auth is never silently off: with nothing configured, this run gets a random token that
    // the service announces once at boot.
    const generatedToken =
      tokens.length === 0 && !jwt && !disabled
        ? randomBytes(24).toString('base64url')
        : undefined;
    const origins = env.ALLOWED_ORIGINS?.split(',');
    return {
      ...table,
      auth: {
        tokens: generatedToken ? [generatedToken] : tokens,
        disabled,
        generatedToken,
        jwt,
      },
      allowedOrigins: origins?.includes('*') ? undefined : origins,
      trustedProxies: env.TRUSTED_PROXIES?.split(','),
      redis: env.REDIS_URL
        ? { url: env.REDIS_URL, channelPrefix: env.REDIS_CHANNEL_PREFIX }
        : undefined,
      roomAcl: env.ROOM_ACL
        ? {
            claim: env.ROOM_ACL_CLAIM,
            grants: env.ROOM_ACL_GRANTS?.split(','),
          }
        : undefined,
      presence: {
        ...table.presence,
        infoClaims: env.PRESENCE_INFO_CLAIMS?.split(','),
      },
      // The service documents its protocol unless told not to; the library's default is off.
      asyncapi: table.asyncapi ?? true,
      console: {
        ...table.console,
        tokens: env.CONSOLE_TOKENS,
        jwtRoleClaim: env.CONSOLE_JWT_ROLE_CLAIM,
      },
    };
  },
);

export type GatewayConfig = ConfigType<typeof gatewayConfig>;
