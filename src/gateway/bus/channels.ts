/** The bus channel that carries broadcasts to every instance. */
export const BROADCAST_CHANNEL = 'broadcast';

/** The bus channel of a room. */
export const roomChannel = (room: string) => `room:${room}`;

/** The bus channel of one instance, for messages to one of its connections. */
export const instanceChannel = (instanceId: string) => `instance:${instanceId}`;

/** Ends the channel prefix in every Redis channel name; no prefix may contain it. */
export const CHANNEL_PREFIX_SEPARATOR = '|';

/** What a Redis channel prefix must be, as configuration errors say it. */
export const CHANNEL_PREFIX_RULE = `must not contain "${CHANNEL_PREFIX_SEPARATOR}", which ends the prefix in every channel name`;

/** Whether `prefix` can be a Redis channel prefix ({@link CHANNEL_PREFIX_RULE}). */
export function isChannelPrefix(prefix: unknown): prefix is string {
  return (
    typeof prefix === 'string' && !prefix.includes(CHANNEL_PREFIX_SEPARATOR)
  );
}

/** Thrown for a Redis channel prefix that breaks {@link CHANNEL_PREFIX_RULE}. */
export class ChannelPrefixError extends Error {
  constructor(readonly prefix: string) {
    super(`channel prefix ${JSON.stringify(prefix)} ${CHANNEL_PREFIX_RULE}`);
    this.name = 'ChannelPrefixError';
  }
}

/**
 * The Redis channel of a bus channel: `<prefix>|<channel>`, `gateway:|room:lobby` say.
 *
 * Several deployments share one Redis by their prefixes, and prefixes and room names may both
 * contain `:`, so a prefix simply prepended let one deployment's channel be another's:
 * `P:` + `room:broadcast` is `P:room:` + `broadcast`. Here the first `|` of a name is where its
 * prefix ends (no prefix contains one), and the rest is one bus channel, whose kind its start
 * tells (`broadcast`, `room:`, `instance:`); so no two (prefix, channel) pairs share a name,
 * whatever the room names. The prefix stays first: `<prefix>|*` selects one deployment's
 * channels in `PUBSUB CHANNELS` and in Redis ACLs.
 */
export function redisChannel(prefix: string, channel: string): string {
  return `${prefix}${CHANNEL_PREFIX_SEPARATOR}${channel}`;
}
