import type { ConnectionRegistry } from './connection-registry.js';

/**
 * Pings every connection once per interval. A connection heard from since the last round (a
 * message, a pong) is pinged again; one that stayed silent for a whole interval is terminated:
 * its peer is gone or hopelessly slow, and its `close` event cleans up rooms and the registry.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.round(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private round(): void {
    for (const connection of this.registry.all()) {
      if (!connection.alive) {
        connection.closeCause ??= 'heartbeat timeout';
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }
}
