/** The smallest Nest application that holds the module: how the benchmarks get our queue and worker threads. */
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BackgroundWorkModule, type BackgroundWorkModuleOptions } from 'nestjs-background-work';

/**
 * An application context (no HTTP) importing `BackgroundWorkModule.forRoot(options)`, initialised. Logging is off:
 * the module's start-up notes would only add noise to the runner's output. Worker threads are off unless asked for.
 */
export async function ourApp(options: BackgroundWorkModuleOptions): Promise<INestApplicationContext> {
  @Module({ imports: [BackgroundWorkModule.forRoot({ threads: false, ...options })] })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, { logger: false });
}
