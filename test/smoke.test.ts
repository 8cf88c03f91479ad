import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { expect, it } from 'vitest';
import { BackgroundQueue, BackgroundWorkModule } from 'nestjs-background-work';

@Injectable()
class Mailer {
  constructor(readonly queue: BackgroundQueue) {}
}

it('injects the queue and runs work', async () => {
  const moduleRef = await Test.createTestingModule({ imports: [BackgroundWorkModule.forRoot()], providers: [Mailer] }).compile();
  const app = moduleRef.createNestApplication();
  await app.init();
  const mailer = app.get(Mailer);
  const item = mailer.queue.enqueue(() => 42);
  await expect(item.result).resolves.toBe(42);
  await app.close();
});
