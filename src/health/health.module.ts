import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { GatewayHealthIndicator } from './gateway.health.js';
import { HealthController } from './health.controller.js';

/** `GET /healthz` (liveness) and `GET /readyz` (readiness). */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [GatewayHealthIndicator],
})
export class HealthModule {}
