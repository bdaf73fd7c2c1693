import { Controller, Get, Header } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { GatewayMetrics } from '../gateway/telemetry/gateway-metrics.js';

/** `GET /metrics`: the gateway's metrics and the process's (CPU, memory, event loop lag, GC). */
@Controller()
export class MetricsController {
  private readonly process = new Registry();

  constructor(private readonly gateway: GatewayMetrics) {
    collectDefaultMetrics({ register: this.process });
  }

  @Get('metrics')
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  async metrics(): Promise<string> {
    const [gateway, process] = await Promise.all([
      this.gateway.registry.metrics(),
      this.process.metrics(),
    ]);
    return `${gateway}\n${process}`;
  }
}
