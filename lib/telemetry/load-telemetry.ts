import type { Logger } from '@nestjs/common';
import type * as Api from '@opentelemetry/api';
import { importModule } from '../import-module.js';
import { describeError } from '../log-text.js';
import { OtelTelemetry } from './otel-telemetry.js';
import type { WorkTelemetry } from './work-telemetry.js';

/**
 * OpenTelemetry when the app has it: `@opentelemetry/api` installed (an optional peer, loaded here and nowhere
 * else) and a tracer or meter provider registered before the module initialises, as OpenTelemetry's own guides
 * ask (start the SDK before creating the app). Otherwise undefined: no span object is ever made, not even a
 * no-op one, so that queues of an app without OpenTelemetry run at full speed.
 */
export async function loadTelemetry(enabled: boolean, logger: Logger): Promise<WorkTelemetry | undefined> {
  if (!enabled) return undefined;
  let api: typeof Api;
  try {
    const module = await importModule('@opentelemetry/api');
    api = (module.trace === undefined ? module.default : module) as typeof Api;
  } catch (error) {
    if (!isMissing(error)) logger.warn(`@opentelemetry/api is installed but does not load, so no traces or metrics are recorded: ${describeError(error)}`);
    return undefined;
  }
  // Public API only: the global tracer provider is a proxy whose delegate is the shared no-op until an SDK registers.
  const tracing = api.trace.getTracerProvider() instanceof api.ProxyTracerProvider
    ? (api.trace.getTracerProvider() as Api.ProxyTracerProvider).getDelegate() !== new api.ProxyTracerProvider().getDelegate()
    : true;
  const metering = api.metrics.getMeterProvider().getMeter('nestjs-background-work').constructor !== api.createNoopMeter().constructor;
  return tracing || metering ? new OtelTelemetry(api, tracing, metering) : undefined;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = String((error as { message?: unknown } | null)?.message ?? '');
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes('@opentelemetry/api');
}
