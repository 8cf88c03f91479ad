import type { WorkItem, WorkState } from 'nestjs-background-work';

/** A finished file: what `GET /thumbnails/:id/file` and `GET /reports/:id/file` serve. */
export interface RenderedFile {
  bytes: Uint8Array;
  contentType: string;
}

export interface FileJobLimits {
  /** Jobs remembered at most. */
  jobs: number;
  /** Bytes of finished files kept at most. */
  bytes: number;
}

/** What `GET /thumbnails/:id` and `GET /reports/:id` answer. */
export interface FileJobView {
  id: string;
  name?: string;
  state: WorkState;
  /** From 0 to 1, as reported by the work itself. */
  progress: number;
  /** Where to get the file, once the job has succeeded. */
  file?: string;
  size?: number;
  /** Why the job failed or was cancelled. */
  error?: string;
}

interface FileJob {
  item: WorkItem<Uint8Array>;
  file?: RenderedFile;
  error?: string;
}

/**
 * The recent file jobs of one kind (thumbnails or reports) and their finished files, in memory and bounded: when
 * there are more than `limits.jobs` jobs or more than `limits.bytes` of files, the oldest finished jobs are
 * forgotten (their `GET` answers 404). Jobs still pending or running are never dropped; the queue's capacity bounds
 * them. A real service would write the files to object storage instead.
 */
export class FileJobs {
  private readonly jobs = new Map<string, FileJob>();
  private bytes = 0;

  constructor(
    private readonly path: string,
    private readonly limits: FileJobLimits,
  ) {}

  /** Keeps `item`, whose result is the file's bytes, as a job whose file is served with `contentType`. */
  track(item: WorkItem<Uint8Array>, contentType: string): void {
    const job: FileJob = { item };
    this.jobs.set(item.id, job);
    // Handling the failure here also keeps it from being an unhandled rejection (the queue logs it anyway).
    item.result.then(
      (bytes) => {
        job.file = { bytes, contentType };
        this.bytes += bytes.byteLength;
        this.evict();
      },
      (error: unknown) => {
        job.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        this.evict();
      },
    );
    this.evict();
  }

  view(id: string): FileJobView | undefined {
    const job = this.jobs.get(id);
    if (job === undefined) return undefined;
    const { item } = job;
    return {
      id: item.id,
      name: item.name,
      state: item.state,
      progress: item.state === 'succeeded' ? 1 : (item.progress ?? 0),
      ...(job.file === undefined ? {} : { file: `/${this.path}/${item.id}/file`, size: job.file.bytes.byteLength }),
      ...(job.error === undefined ? {} : { error: job.error }),
    };
  }

  /** The finished file; `undefined` with the job's state when there is none (yet), or no state for an unknown job. */
  file(id: string): { file?: RenderedFile; state?: WorkState } {
    const job = this.jobs.get(id);
    return job === undefined ? {} : { file: job.file, state: job.item.state };
  }

  private evict(): void {
    // A Map iterates in insertion order: the oldest jobs come first.
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.limits.jobs && this.bytes <= this.limits.bytes) return;
      if (job.item.state === 'pending' || job.item.state === 'running') continue;
      this.jobs.delete(id);
      this.bytes -= job.file?.bytes.byteLength ?? 0;
    }
  }
}
