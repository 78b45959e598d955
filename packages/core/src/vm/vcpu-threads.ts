import { Worker } from "node:worker_threads";
import { MdevError } from "../errors/mdev-error.js";
import { VCPU_THREAD_READY } from "./vcpu-control.js";
import { workerUrl } from "./worker-url.js";

/** A started vCPU thread waiting for its VM, and whether it finished starting. */
interface WaitingThread {
  readonly worker: Worker;
  readonly ready: Promise<void>;
}

/**
 * Starts a vCPU worker thread: it loads its modules, posts {@link VCPU_THREAD_READY} and
 * runs the vCPU of the first {@link VcpuWorkerData} it is sent. It does not keep the
 * process alive.
 */
export function startVcpuThread(): Worker {
  const worker = new Worker(workerUrl("vcpu-worker", import.meta.url));
  worker.unref();
  return worker;
}

/**
 * vCPU worker threads started ahead of the VM they will run, as a QEMU target has its
 * vCPU threads before `-incoming` streams anything. A target that starts them only when it
 * accepts a VM pays each thread's start-up (a V8 isolate, Node's bootstrap, the worker's
 * modules: about 50 ms of CPU, twice that with `--no-lazy`) while guest RAM streams in,
 * on the cores the migration needs. {@link SimulatedVm.create} takes threads from here and
 * starts any further ones itself.
 *
 * A waiting thread does nothing until it gets its VM (it does not keep the process alive).
 */
export class VcpuThreads {
  readonly #waiting: WaitingThread[] = [];
  #closed = false;

  /** Started threads that wait for a VM. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Starts threads until `count` wait (those already waiting count) and resolves once
   * every waiting thread finished starting. Rejects (EIO) if one fails to start.
   */
  async warm(count: number): Promise<void> {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new MdevError("EINVAL", `vCPU thread count ${count} is not a whole number ≥ 0`);
    if (this.#closed) throw new MdevError("ECANCELED", "the vCPU threads were closed");
    while (this.#waiting.length < count) this.#waiting.push(this.#start());
    await Promise.all(this.#waiting.map((t) => t.ready));
  }

  /**
   * A waiting thread for the caller's vCPU, if any: the caller gives it its VM (it may
   * still be starting; what it is sent waits for it).
   */
  take(): Worker | undefined {
    return this.#waiting.shift()?.worker;
  }

  /** Ends every waiting thread; none is started again. */
  async close(): Promise<void> {
    this.#closed = true;
    const ending = this.#waiting.splice(0).map((t) => t.worker.terminate());
    await Promise.all(ending);
  }

  #start(): WaitingThread {
    const worker = startVcpuThread();
    const thread: WaitingThread = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        const failed = (why: string): void => {
          this.#drop(worker);
          reject(new MdevError("EIO", `a vCPU thread failed to start: ${why}`));
        };
        worker.once("message", (m) => {
          if (m === VCPU_THREAD_READY) resolve();
          else failed(`unexpected message ${String(m)}`);
        });
        worker.once("error", (err) => failed(err.message));
        worker.once("exit", (code) => failed(`exited with code ${code}`));
      }),
    };
    // A thread that dies while it waits is only dropped; warm() reports it.
    thread.ready.catch(() => {});
    return thread;
  }

  #drop(worker: Worker): void {
    const i = this.#waiting.findIndex((t) => t.worker === worker);
    if (i >= 0) this.#waiting.splice(i, 1);
  }
}
