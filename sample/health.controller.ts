import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { BackgroundWorkHealthIndicator } from 'nestjs-background-work';

/**
 * For a load balancer or Kubernetes probe: 200 while the background work is healthy, 503 while the app drains, when
 * a hosted service has failed, when the jobs' file cannot be read, or when emails pile up or wait too long.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly background: BackgroundWorkHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.background.isHealthy('background', { maxBacklog: { email: 1_000, cpu: 20 }, maxPendingAge: { email: 5 * 60_000 } }),
    ]);
  }
}
