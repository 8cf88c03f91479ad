import { Injectable } from '@nestjs/common';
import { BackgroundQueue, InjectQueue, WorkerThreads, type WorkItem } from 'nestjs-background-work';
import { FileJobs, type FileJobView } from './file-jobs.js';
import type { ReportRequest } from './report-request.js';
import type { ReportInput } from './tasks/report.task.js';

/** Built: tasks/report.task.js; under Vitest, WorkerThreads falls back to the .ts beside it. */
const REPORT_TASK = new URL('./tasks/report.task.js', import.meta.url);

/** Renders PDF reports on the `cpu` queue, each on a worker thread, and keeps the recent ones. */
@Injectable()
export class ReportsService {
  private readonly jobs = new FileJobs('reports', { jobs: 200, bytes: 128 * 1024 * 1024 });

  constructor(
    @InjectQueue('cpu') private readonly queue: BackgroundQueue,
    private readonly threads: WorkerThreads,
  ) {}

  /** Queues the report; throws QueueFullError or QueueClosedError (503) when the queue cannot take it. */
  enqueue(request: ReportRequest): WorkItem<Uint8Array> {
    const input: ReportInput = { ...request, requestedAt: new Date().toISOString() };
    // The task's progress (the share of pages done) becomes the work item's; its result is the PDF's bytes, moved
    // from the thread rather than copied on the event loop.
    const item = this.queue.enqueue(({ signal, progress }) => this.threads.run<ReportInput, Uint8Array>(REPORT_TASK, input, { signal, progress }), {
      name: `report:${request.pages}p`,
    });
    this.jobs.track(item, 'application/pdf');
    return item;
  }

  view(id: string): FileJobView | undefined {
    return this.jobs.view(id);
  }

  file(id: string): ReturnType<FileJobs['file']> {
    return this.jobs.file(id);
  }
}
