import { randomBytes } from 'node:crypto';
import { REDIS_URL } from '../scenarios/cluster.js';
import {
  startServer,
  type RunningServer,
  type StartOptions,
} from './launch.js';

/**
 * Servers besides the shared pair that paired scenarios need: the gateway with history off
 * (rooms) and a gateway keeping history in Redis (reconnect). They start with the pair, so that
 * their boots (seconds of CPU on every core each) overlap its boot rather than adding to the
 * run, and stop with it; idle until their scenario, they cost the others nothing measurable.
 */
export type ExtraServer = 'historyOff' | 'redisHistory';

function optionsOf(name: ExtraServer, pinCores?: string): StartOptions {
  switch (name) {
    case 'historyOff':
      return {
        label: 'gateway-history-off',
        pinCores,
        env: { HISTORY_SIZE: '0' },
      };
    case 'redisHistory':
      return {
        label: 'gateway-redis-history',
        pinCores,
        // A prefix of this run's own: its history keys expire after HISTORY_TTL_MS.
        redis: {
          url: REDIS_URL,
          prefix: `bench-${randomBytes(4).toString('hex')}:`,
        },
      };
  }
}

/** Starts the extra server; resolves with it, or with the error that stopped it. */
export function startExtra(
  name: ExtraServer,
  pinCores: string | undefined,
): Promise<RunningServer | Error> {
  return startServer('gateway', optionsOf(name, pinCores)).catch(
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
}
