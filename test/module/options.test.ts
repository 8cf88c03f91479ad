import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { BackgroundQueue, BackgroundWorkModule, HostedService, InjectQueue, getQueueToken } from 'nestjs-background-work';

describe('BackgroundWorkModule options', () => {
  it.each([
    [{ shutdownTimeout: -1 }, RangeError, 'BackgroundWorkModule options.shutdownTimeout must be an integer from 0 to 2147483647, got -1'],
    [{ shutdownTimeout: Number.NaN }, TypeError, 'BackgroundWorkModule options.shutdownTimeout must be a number, got NaN'],
    [{ shutdownTimeout: Infinity }, RangeError, 'options.shutdownTimeout must be an integer from 0 to 2147483647, got Infinity'],
    [{ shutdownTimeout: '30s' }, TypeError, 'options.shutdownTimeout must be a number, got "30s"'],
    [{ queue: { concurrency: 0 } }, RangeError, 'options.queue.concurrency must be an integer >= 1 or Infinity, got 0'],
    [{ queue: { concurrency: 1.5 } }, RangeError, 'options.queue.concurrency must be an integer >= 1 or Infinity, got 1.5'],
    [{ queue: { capacity: -3 } }, RangeError, 'options.queue.capacity must be an integer >= 1 or Infinity, got -3'],
    [{ queue: { timeout: 0 } }, RangeError, 'options.queue.timeout must be an integer from 1 to 2147483647 or Infinity, got 0'],
    [{ queue: { retry: 0 } }, RangeError, 'options.queue.retry must be an integer >= 1, got 0'],
    [{ queue: { retry: { attempts: 3, backoff: 'linear' } } }, RangeError, "options.queue.retry.backoff must be 'fixed' or 'exponential', got \"linear\""],
    [{ queue: { retry: { delay: 10 } } }, TypeError, 'options.queue.retry.attempts must be a number, got undefined'],
    [{ queue: { retry: { attempts: 2, jitter: 'yes' } } }, TypeError, 'options.queue.retry.jitter must be a boolean, got "yes"'],
    [{ queue: { concurency: 2 } }, TypeError, 'options.queue has an unknown option "concurency"'],
    [{ queue: 4 }, TypeError, 'options.queue must be an object, got 4'],
    [{ queues: { default: {} } }, RangeError, 'options.queues must not name a queue "default"'],
    [{ queues: { email: { concurrency: -1 } } }, RangeError, 'options.queues.email.concurrency must be an integer >= 1'],
    [{ queues: [] }, TypeError, 'options.queues must be an object, got an array'],
    [{ startConcurrently: 'yes' }, TypeError, 'options.startConcurrently must be a boolean, got "yes"'],
    [{ stopConcurrently: 1 }, TypeError, 'options.stopConcurrently must be a boolean, got 1'],
    [{ onServiceError: 'crash' }, RangeError, "options.onServiceError must be 'stop-app' or 'log', got \"crash\""],
    [{ shutdownTimout: 5 }, TypeError, 'BackgroundWorkModule options has an unknown option "shutdownTimout"'],
    [null, TypeError, 'BackgroundWorkModule options must be an object, got null'],
  ])('forRoot(%j) throws a clear error at module creation', (options, type, message) => {
    const create = () => BackgroundWorkModule.forRoot(options as never);
    expect(create).toThrow(type);
    expect(create).toThrow(message);
  });

  it('rejects bad @HostedService options where the decorator is applied', () => {
    expect(() => HostedService({ order: Number.NaN })).toThrow('@HostedService() options.order must be a number, got NaN');
    expect(() => HostedService({ ordre: 1 } as never)).toThrow('@HostedService() options has an unknown option "ordre"');
  });

  it('takes its options from a factory with forRootAsync, and checks them the same way', async () => {
    @Injectable()
    class Config {
      readonly concurrency = 9;
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}

    @Injectable()
    class Mailer {
      constructor(@InjectQueue('email') readonly queue: BackgroundQueue) {}
    }

    const moduleRef = await Test.createTestingModule({
      imports: [
        BackgroundWorkModule.forRootAsync({
          imports: [ConfigModule],
          inject: [Config],
          queues: ['email'],
          useFactory: (config: Config) => ({ queues: { email: { concurrency: config.concurrency } } }),
        }),
      ],
      providers: [Mailer],
    }).compile();
    expect(moduleRef.get(Mailer).queue.stats().concurrency).toBe(9);
    expect(moduleRef.get(BackgroundQueue).name).toBe('default');
    await moduleRef.close();

    const bad = Test.createTestingModule({
      imports: [BackgroundWorkModule.forRootAsync({ useFactory: async () => ({ shutdownTimeout: -5 }) })],
    }).compile();
    await expect(bad).rejects.toThrow('BackgroundWorkModule options.shutdownTimeout must be an integer from 0 to 2147483647, got -5');

    const mismatch = Test.createTestingModule({
      imports: [BackgroundWorkModule.forRootAsync({ queues: ['email'], useFactory: () => ({ queues: { sms: {} } }) })],
    }).compile();
    await expect(mismatch).rejects.toThrow('useFactory configured queues [sms] but forRootAsync declared queues [email]');

    expect(() => BackgroundWorkModule.forRootAsync({} as never)).toThrow('forRootAsync options.useFactory must be a function, got undefined');
    expect(() => BackgroundWorkModule.forRootAsync({ useFactory: () => ({}), queues: 'email' } as never)).toThrow(
      'forRootAsync options.queues must be an array of queue names, got "email"',
    );
  });

  it('gives each queue a token: the class for the default queue, a string for a named one', () => {
    expect(getQueueToken()).toBe(BackgroundQueue);
    expect(getQueueToken('default')).toBe(BackgroundQueue);
    expect(getQueueToken('email')).toBe('nestjs-background-work:queue:email');
    expect(() => getQueueToken('')).toThrow(TypeError);
  });
});
