import { Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundQueue } from 'nestjs-background-work';
import { loadTelemetry } from '../../lib/telemetry/load-telemetry.js';
import { startApp } from '../support/create-app.js';

// A file of its own: the OpenTelemetry API's globals live as long as the process, and no provider is registered here
// until the last test registers one.
describe('OpenTelemetry without a provider', () => {
  afterAll(() => trace.disable());

  it('makes nothing while the app registered no tracer or meter provider, though the API is installed', async () => {
    expect(await loadTelemetry(true, new Logger('test'))).toBeUndefined();
    const { app } = await startApp();
    await app.get(BackgroundQueue).enqueue(() => 1).result;
    await app.close();
  });

  it('records once a tracer provider is registered, unless turned off', async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    expect(await loadTelemetry(true, new Logger('test'))).toBeDefined();
    expect(await loadTelemetry(false, new Logger('test'))).toBeUndefined();
  });
});
