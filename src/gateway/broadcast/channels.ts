/** The bus channel that carries broadcasts to every instance. */
export const BROADCAST_CHANNEL = 'broadcast';

/** The bus channel of a room. */
export const roomChannel = (room: string) => `room:${room}`;

/** The bus channel of one instance, for messages to one of its connections. */
export const instanceChannel = (instanceId: string) => `instance:${instanceId}`;

/** The Redis channel of a bus channel, for a deployment with this channel prefix. */
export function redisChannel(prefix: string, channel: string): string {
  return prefix + channel;
}
