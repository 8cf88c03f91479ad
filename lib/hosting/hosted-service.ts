import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { HOSTED_SERVICE_METADATA } from '../background-work.constants.js';
import { checkNumber, checkObject } from '../validation.js';

/**
 * A service that starts with the application and stops with it (.NET IHostedService), with the optional
 * IHostedLifecycleService hooks. Hooks run phase by phase over all services: every `starting()`, then every
 * `start()`, then every `started()`; at shutdown every `stopping()`, every `stop()`, every `stopped()`.
 */
export interface HostedService {
  /** Awaited at bootstrap, before the HTTP port is bound: keep it short. The signal aborts if shutdown begins first. */
  start(signal: AbortSignal): Promise<void> | void;
  /** Awaited at shutdown; the signal aborts when the shutdown deadline passes, and then the stop is abandoned. */
  stop(signal: AbortSignal): Promise<void> | void;
  starting?(): Promise<void> | void;
  started?(): Promise<void> | void;
  stopping?(): Promise<void> | void;
  stopped?(): Promise<void> | void;
}

export interface HostedServiceOptions {
  /** Lower starts earlier and stops later. Default 0; ties keep registration order. */
  order?: number;
}

export interface HostedServiceMetadata {
  order: number;
}

/** Marks a provider as a hosted service and makes it `@Injectable()`. List it in a module's `providers`. */
export function HostedService(options: HostedServiceOptions = {}): ClassDecorator {
  const o = checkObject('@HostedService() options', options, ['order']);
  const order = o.order === undefined ? 0 : checkNumber('@HostedService() options.order', o.order, { min: -Number.MAX_SAFE_INTEGER });
  const metadata: HostedServiceMetadata = { order };
  return applyDecorators(Injectable(), SetMetadata(HOSTED_SERVICE_METADATA, metadata));
}
