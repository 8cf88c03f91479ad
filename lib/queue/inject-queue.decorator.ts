import { Inject } from '@nestjs/common';
import { DEFAULT_QUEUE } from '../background-work.constants.js';
import { checkString } from '../validation.js';
import { BackgroundQueue } from './background-queue.js';

/** The injection token of a queue: `BackgroundQueue` itself for the default queue, a string for a named one. */
export function getQueueToken(name: string = DEFAULT_QUEUE): string | typeof BackgroundQueue {
  checkString('getQueueToken(name)', name);
  return name === DEFAULT_QUEUE ? BackgroundQueue : `nestjs-background-work:queue:${name}`;
}

/** Injects the named queue configured in `BackgroundWorkModule.forRoot({ queues: { [name]: ... } })`. */
export function InjectQueue(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getQueueToken(name));
}
