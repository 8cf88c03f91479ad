/** A job whose process died while running it more than `maxStalls` times: it is failed instead of run again. */
export class JobStalledError extends Error {
  override readonly name = 'JobStalledError';
  constructor(
    message: string,
    readonly jobId?: string,
  ) {
    super(message);
  }
}

/** A job enqueued after the store closed, or a call on a store that could not be opened. */
export class JobStoreClosedError extends Error {
  override readonly name = 'JobStoreClosedError';
}
