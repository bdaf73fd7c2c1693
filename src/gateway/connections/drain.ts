import { WebSocket } from 'ws';
import type { ClientConnection } from './connection.js';

/** How a drain ended: clients that closed in time, and those cut off at the deadline. */
export interface DrainResult {
  closed: number;
  terminated: number;
}

/**
 * Sends every connection a close frame, waits up to `timeoutMs` for the closing handshakes,
 * then terminates whoever is left. Resolves once every socket is closed either way.
 */
export async function drainConnections(
  connections: readonly ClientConnection[],
  code: number,
  reason: string,
  timeoutMs: number,
): Promise<DrainResult> {
  const pending = new Set(
    connections.filter((c) => c.socket.readyState !== WebSocket.CLOSED),
  );
  if (pending.size === 0) return { closed: 0, terminated: 0 };
  let timer: NodeJS.Timeout | undefined;
  const allClosed = new Promise<void>((resolve) => {
    for (const connection of pending) {
      connection.socket.once('close', () => {
        pending.delete(connection);
        if (pending.size === 0) resolve();
      });
      connection.close(code, reason);
    }
  });
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  const total = pending.size;
  await Promise.race([allClosed, deadline]);
  clearTimeout(timer);
  const terminated = pending.size;
  for (const connection of pending) connection.socket.terminate();
  return { closed: total - terminated, terminated };
}
