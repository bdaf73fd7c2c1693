import { randomBytes } from 'node:crypto';
import { registerAs, type ConfigType } from '@nestjs/config';
import { validateEnvironment } from './validate-environment.js';

/**
 * The gateway's settings as the environment gives them. Unset values stay `undefined` so that
 * the library's own defaults (one place: `gateway.options.ts`) apply.
 */
export const gatewayConfig = registerAs('gateway', () => {
  const env = validateEnvironment(process.env);
  const tokens = env.AUTH_TOKENS ? env.AUTH_TOKENS.split(',') : [];
  const disabled = env.AUTH_DISABLED === true;
  // Auth is never silently off: with nothing configured, this run gets a random token that
  // the service announces once at boot.
  const generatedToken =
    tokens.length === 0 && !disabled
      ? randomBytes(24).toString('base64url')
      : undefined;
  return {
    path: env.WS_PATH,
    auth: {
      tokens: generatedToken ? [generatedToken] : tokens,
      disabled,
      generatedToken,
    },
    maxPayloadBytes: env.WS_MAX_PAYLOAD,
    shutdownDrainMs: env.SHUTDOWN_DRAIN_MS,
    redis: env.REDIS_URL
      ? { url: env.REDIS_URL, channelPrefix: env.REDIS_CHANNEL_PREFIX }
      : undefined,
    maxRoomsPerConnection: env.MAX_ROOMS_PER_CONNECTION,
  };
});

export type GatewayConfig = ConfigType<typeof gatewayConfig>;
