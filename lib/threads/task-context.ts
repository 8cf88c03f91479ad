/** The second argument of a task function, on its worker thread. */
export interface TaskContext {
  /**
   * Reports progress (a finite number, such as a fraction done) to the `progress` callback given to
   * `WorkerThreads.run`; does nothing when none was given.
   */
  progress(value: number): void;
  /**
   * Marks bytes to return by moving them to the caller instead of copying them: `return ctx.move(pdfBytes)`. A view
   * (a `Buffer`, a `Uint8Array`) is first copied here, on the worker thread, into a buffer of its own, since pooled
   * and native buffers cannot be moved; an `ArrayBuffer` is moved as it is. The caller receives a `Uint8Array` (or
   * the `ArrayBuffer`).
   */
  move<T extends ArrayBuffer | ArrayBufferView>(value: T): T extends ArrayBuffer ? ArrayBuffer : Uint8Array;
}
