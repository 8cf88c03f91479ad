/**
 * startup-100-services (ms): app.init() + app.close() of a Nest application with 100 @HostedService providers,
 * minus the same application with none: what hosting 100 services adds to start-up and shutdown. After a warm-up,
 * both apps are built and timed alternately in this process, several times, and each side's median is taken, so
 * that a slow moment of the machine does not land on one side only.
 */
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BackgroundWorkModule, HostedService } from 'nestjs-background-work';
import { main, median, now, report, scenarioArgs } from '../measure.js';

interface Params {
  services: number;
  iterations: number;
  warmup: number;
}

function hostedServices(count: number): Type[] {
  return Array.from({ length: count }, (_, i) => {
    @HostedService()
    class Service implements HostedService {
      async start(): Promise<void> {}
      async stop(): Promise<void> {}
    }
    // Distinct names, as real services have: the module logs and reports services by class name.
    Object.defineProperty(Service, 'name', { value: `BenchService${i}` });
    return Service;
  });
}

function appModule(providers: Type[]): Type {
  @Module({ imports: [BackgroundWorkModule.forRoot({ threads: false })], providers })
  class AppModule {}
  return AppModule;
}

/** Builds the app untimed (module scan and dependency injection are Nest's, the same with or without us), then times init + close. */
async function initClose(module: Type): Promise<number> {
  const app = await NestFactory.create(module, { logger: false });
  const began = now();
  await app.init();
  await app.close();
  return now() - began;
}

main(async () => {
  const { params } = scenarioArgs<Params>();
  const withServices = appModule(hostedServices(params.services));
  const without = appModule([]);
  // Start-up happens once per process, so the first, cold figure is reported too (in the run's detail): after one
  // throwaway app has warmed what every Nest app runs, the first app with services runs our start/stop paths cold.
  await initClose(without);
  const coldWith = await initClose(withServices);
  const coldWithout = await initClose(without);
  for (let i = 0; i < params.warmup; i++) {
    await initClose(withServices);
    await initClose(without);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < params.iterations; i++) {
    a.push(await initClose(withServices));
    b.push(await initClose(without));
  }
  report(median(a) - median(b), { with: median(a), without: median(b), cold: coldWith - coldWithout });
});
