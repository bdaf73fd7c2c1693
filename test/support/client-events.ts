import type { GatewayClient, LifecycleEvents } from '../../src/client/index.js';

const DEFAULT_WAIT_MS = 5_000;

/** The next emission of a lifecycle event; fails after the deadline instead of hanging. */
export function nextEvent<K extends keyof LifecycleEvents>(
  client: GatewayClient,
  event: K,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<LifecycleEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.once(event, (info) => {
      clearTimeout(timer);
      resolve(info);
    });
  });
}

/** The next push of an event (`broadcast`, `message`, a host's own, whatever its name): its data. */
export function nextPush<T = unknown>(
  client: GatewayClient,
  event: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${event}" push within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.onPush<T>(event, (data) => {
      off();
      clearTimeout(timer);
      resolve(data);
    });
  });
}

/** Records the names of the lifecycle events a client emits, in order. */
export function recordLifecycle(
  client: GatewayClient,
  events: Array<keyof LifecycleEvents> = [
    'open',
    'close',
    'connectError',
    'reconnecting',
    'reconnected',
    'reconnectFailed',
    'tokenExpired',
  ],
): string[] {
  const seen: string[] = [];
  for (const event of events) client.on(event, () => seen.push(event));
  return seen;
}

/** What a promise settled with, for assertions on rejections among many. */
export async function settle<T>(
  promise: Promise<T>,
): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}
