import { randomBytes } from 'node:crypto';
import { registerAs, type ConfigType } from '@nestjs/config';
import type { GatewayRateLimitOptions } from '../gateway/gateway.options.js';
import { validateEnvironment } from './validate-environment.js';

/**
 * The gateway's settings as the environment gives them. Unset values stay `undefined` so that
 * the library's own defaults (one place: `gateway.options.ts`) apply.
 */
export const gatewayConfig = registerAs('gateway', () => {
  const env = validateEnvironment(process.env);
  const tokens = env.AUTH_TOKENS ? env.AUTH_TOKENS.split(',') : [];
  const disabled = env.AUTH_DISABLED === true;
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
  const rateLimit: GatewayRateLimitOptions = {
    perSecond: env.RATE_LIMIT_PER_SEC,
    burst: env.RATE_LIMIT_BURST,
    bytesPerSecond: env.RATE_LIMIT_BYTES_PER_SEC,
    bytesBurst: env.RATE_LIMIT_BYTES_BURST,
    fanoutBytesPerSecond: env.RATE_LIMIT_FANOUT_BYTES_PER_SEC,
  };
  return {
    path: env.WS_PATH,
    auth: {
      tokens: generatedToken ? [generatedToken] : tokens,
      disabled,
      generatedToken,
      jwt,
    },
    allowedOrigins: origins?.includes('*') ? undefined : origins,
    trustedProxies: env.TRUSTED_PROXIES?.split(','),
    maxConnections: env.MAX_CONNECTIONS,
    maxConnectionsPerPrincipal: env.MAX_CONNECTIONS_PER_PRINCIPAL,
    maxConnectionsPerAddress: env.MAX_CONNECTIONS_PER_ADDRESS,
    rateLimit,
    maxBufferedBytes: env.MAX_BUFFERED_BYTES,
    heartbeatIntervalMs: env.WS_HEARTBEAT_MS,
    perMessageDeflate: env.WS_PERMESSAGE_DEFLATE,
    maxPayloadBytes: env.WS_MAX_PAYLOAD,
    maxDepth: env.WS_MAX_DEPTH,
    shutdownDrainMs: env.SHUTDOWN_DRAIN_MS,
    closeGraceMs: env.WS_CLOSE_GRACE_MS,
    redis: env.REDIS_URL
      ? { url: env.REDIS_URL, channelPrefix: env.REDIS_CHANNEL_PREFIX }
      : undefined,
    maxRoomsPerConnection: env.MAX_ROOMS_PER_CONNECTION,
    roomAcl: env.ROOM_ACL
      ? {
          claim: env.ROOM_ACL_CLAIM,
          grants: env.ROOM_ACL_GRANTS?.split(','),
        }
      : undefined,
  };
});

export type GatewayConfig = ConfigType<typeof gatewayConfig>;
