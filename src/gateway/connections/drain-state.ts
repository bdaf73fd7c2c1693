import { Injectable } from '@nestjs/common';

/**
 * Whether the instance is shutting down. Once draining, readiness reports 503 (load balancers
 * stop sending clients) and the adapter refuses new upgrades, while open connections are closed
 * with 1001 and given `shutdownDrainMs` to go.
 */
@Injectable()
export class DrainState {
  private since?: number;

  get draining(): boolean {
    return this.since !== undefined;
  }

  /** Starts draining; later calls change nothing. */
  begin(): void {
    this.since ??= Date.now();
  }
}
