import { randomBytes } from 'node:crypto';
import type { Profile } from '../profiles.js';
import { REDIS_URL } from '../scenarios/cluster.js';
import {
  startServer,
  type RunningServer,
  type StartOptions,
} from './launch.js';

/**
 * Servers besides the shared pair that paired scenarios need: the gateway with history off
 * (rooms), a gateway keeping history in Redis (reconnect), and two gateways accepting one static
 * token per principal, with presence on (listing rooms up to the presence scenario's size) and
 * off (presence). Each lives only around its own scenario (bench/run.ts, `withExtras`): their
 * boots add a few seconds to the run, and an idle gateway sharing the server core is not free for
 * the cases measured meanwhile (V8's memory reducer, about a minute after its boot).
 */
export type ExtraServer =
  'historyOff' | 'redisHistory' | 'presenceOn' | 'presenceOff';

/**
 * The presence gateways' tokens: a member is a principal (`token-<n>`, the token's place in
 * `AUTH_TOKENS`), so every member needs a token of its own. Short: 10,000 of them fit in one
 * environment variable (at most 128 KiB on Linux).
 */
export function presenceTokens(profile: Profile): string[] {
  const { cyclers, members } = profile.presence;
  return Array.from(
    // The cyclers and one more (the presence subscriber), or the members.
    { length: Math.max(cyclers + 1, members) },
    (_, i) => `p${i.toString(36)}`,
  );
}

function optionsOf(
  name: ExtraServer,
  profile: Profile,
  pinCores?: string,
): StartOptions {
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
    case 'presenceOn':
      return {
        label: 'gateway-presence-on',
        pinCores,
        env: {
          AUTH_TOKENS: presenceTokens(profile).join(','),
          // The request case's room is listed, not only counted (the default lists 1,000).
          PRESENCE_MAX_MEMBERS: String(
            Math.max(1000, profile.presence.members),
          ),
        },
      };
    case 'presenceOff':
      return {
        label: 'gateway-presence-off',
        pinCores,
        env: {
          AUTH_TOKENS: presenceTokens(profile).join(','),
          PRESENCE_ENABLED: 'false',
        },
      };
  }
}

/** Starts the extra server; resolves with it, or with the error that stopped it. */
export function startExtra(
  name: ExtraServer,
  profile: Profile,
  pinCores: string | undefined,
): Promise<RunningServer | Error> {
  return startServer('gateway', optionsOf(name, profile, pinCores)).catch(
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
}
