import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { GatewayHealthIndicator } from './gateway.health.js';

/** Probes for orchestrators and load balancers, on the gateway's own port. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly gateway: GatewayHealthIndicator,
  ) {}

  /**
   * Liveness: the process serves HTTP. It checks nothing outside the process on purpose: a Redis
   * outage must not get healthy gateways restarted.
   */
  @Get('healthz')
  @HealthCheck()
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * Readiness: 503 while draining, while the message bus (Redis) cannot publish, or while the
   * history or presence store cannot be reached.
   */
  @Get('readyz')
  @HealthCheck()
  readiness(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.gateway.accepting(),
      () => this.gateway.messageBus(),
      () => this.gateway.stores(),
    ]);
  }
}
