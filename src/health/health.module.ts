import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { GatewayHealthIndicator } from './gateway.health.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';

/** `GET /healthz` (liveness), `GET /readyz` (readiness) and `GET /metrics` (Prometheus). */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, MetricsController],
  providers: [GatewayHealthIndicator],
})
export class HealthModule {}
