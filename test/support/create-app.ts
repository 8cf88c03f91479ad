import type { INestApplication, Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { BackgroundWorkModule, type BackgroundWorkModuleOptions } from 'nestjs-background-work';
import { CapturingLogger } from './capturing-logger.js';

export interface TestApp {
  app: INestApplication;
  logger: CapturingLogger;
}

/** A real Nest application with the module and `providers`, its logs captured. Not yet initialised. */
export async function createApp(options: BackgroundWorkModuleOptions = {}, providers: Provider[] = []): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [BackgroundWorkModule.forRoot(options)],
    providers,
  }).compile();
  const logger = new CapturingLogger();
  const app = moduleRef.createNestApplication({ logger });
  return { app, logger };
}

/** Like `createApp`, and initialised. */
export async function startApp(options: BackgroundWorkModuleOptions = {}, providers: Provider[] = []): Promise<TestApp> {
  const created = await createApp(options, providers);
  await created.app.init();
  return created;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise with its resolve function outside, for work that a test finishes by hand. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}
