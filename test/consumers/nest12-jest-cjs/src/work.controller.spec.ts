import { Test } from '@nestjs/testing';
import { BackgroundQueue, BackgroundWorkModule, WorkerThreads } from 'nestjs-background-work';
import { HASH_TASK, WorkController } from './work.controller';
import hash from './hash.task';

describe('WorkController', () => {
  it('enqueues an item that hashes on a worker thread', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [BackgroundWorkModule.forRoot({ threads: { maxThreads: 1 } })],
      controllers: [WorkController],
    }).compile();
    await moduleRef.init();
    const controller = moduleRef.get(WorkController);
    const queue = moduleRef.get(BackgroundQueue);

    const { id } = controller.enqueue();
    expect(typeof id).toBe('string');
    await queue.onIdle();
    expect(queue.stats().succeeded).toBe(1);
    const digest = await moduleRef.get(WorkerThreads).run(HASH_TASK, { text: 'consumer', rounds: 1000 });
    expect(digest).toBe(hash({ text: 'consumer', rounds: 1000 }));
    await moduleRef.close();
  });
});
