import { registerAs, type ConfigType } from '@nestjs/config';
import { SERVICE_DEFAULTS } from './environment.schema.js';
import { validateEnvironment } from './validate-environment.js';

/** How the service logs: `LOG_LEVEL` (default info), `LOG_FORMAT` (json, or pretty on a TTY). */
export const loggingConfig = registerAs('logging', () => {
  const env = validateEnvironment(process.env);
  return {
    level: env.LOG_LEVEL ?? SERVICE_DEFAULTS.logLevel,
    format: env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  };
});

export type LoggingConfig = ConfigType<typeof loggingConfig>;
