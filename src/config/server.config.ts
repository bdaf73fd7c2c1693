import { registerAs, type ConfigType } from '@nestjs/config';
import { SERVICE_DEFAULTS } from './environment.schema.js';
import { validateEnvironment } from './validate-environment.js';

/** Where the service listens: HTTP and WebSockets share this one port. */
export const serverConfig = registerAs('server', () => {
  const env = validateEnvironment(process.env);
  return {
    /** `PORT`, default 8765 (the python-websockets tutorial's port). */
    port: env.PORT ?? SERVICE_DEFAULTS.port,
    /** `HOST`, default every interface. */
    host: env.HOST ?? SERVICE_DEFAULTS.host,
    /**
     * `HANDSHAKE_TIMEOUT_MS`, default 10 s: how long a client may take to send the request
     * headers (slowloris), and the whole request; then 408 and the connection is closed.
     */
    handshakeTimeoutMs:
      env.HANDSHAKE_TIMEOUT_MS ?? SERVICE_DEFAULTS.handshakeTimeoutMs,
  };
});

export type ServerConfig = ConfigType<typeof serverConfig>;
