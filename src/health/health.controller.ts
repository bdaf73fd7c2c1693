import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  type HealthCheckResult,
} from '@nestjs/terminus';

/** Probes for orchestrators, on the gateway's own port. */
@Controller()
export class HealthController {
  constructor(private readonly health: HealthCheckService) {}

  /** Liveness: the process serves HTTP. It checks nothing outside the process on purpose. */
  @Get('healthz')
  @HealthCheck()
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }
}
