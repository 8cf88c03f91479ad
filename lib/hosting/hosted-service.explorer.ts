import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { HOSTED_SERVICE_METADATA, LOG_CONTEXT } from '../background-work.constants.js';
import type { ServiceEntry } from './background-host.js';
import type { HostedService, HostedServiceMetadata } from './hosted-service.js';

/** Finds the providers marked `@HostedService()` and puts them in start order: by `order`, then registration. */
@Injectable()
export class HostedServiceExplorer {
  private readonly logger = new Logger(LOG_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  explore(): ServiceEntry[] {
    const seen = new Set<object>();
    const found: ServiceEntry[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as HostedService | undefined;
      const type = instance?.constructor ?? (typeof wrapper.metatype === 'function' ? wrapper.metatype : undefined);
      if (!type) continue;
      const metadata = this.reflector.get<HostedServiceMetadata | undefined>(HOSTED_SERVICE_METADATA, type);
      if (metadata === undefined) continue;
      if (!wrapper.isDependencyTreeStatic() || !instance) {
        this.logger.error(
          `Hosted service ${type.name} is request-scoped or transient and cannot be hosted; make it a singleton`,
        );
        continue;
      }
      if (seen.has(instance)) continue;
      seen.add(instance);
      if (typeof instance.start !== 'function' || typeof instance.stop !== 'function') {
        throw new TypeError(`Hosted service ${type.name} must have start(signal) and stop(signal) methods (implement HostedService or extend BackgroundService)`);
      }
      found.push({ name: type.name, order: metadata.order, instance, state: 'starting', started: false });
    }
    // Array.prototype.sort is stable: equal orders keep registration order.
    return found.toSorted((a, b) => a.order - b.order);
  }
}
