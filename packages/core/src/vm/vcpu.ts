import type { Worker } from "node:worker_threads";
import { MdevError } from "../errors/mdev-error.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import {
  VCPU_CONTROL_SLOTS,
  VcpuCommand,
  VcpuRunState,
  VcpuSlot,
  type VcpuWorkerData,
} from "./vcpu-control.js";
import { startVcpuThread } from "./vcpu-threads.js";
import type { Workload } from "./vm-config.js";

/**
 * How long {@link Vcpu.awaitPaused} may block the thread for a pause's acknowledgement
 * before it waits asynchronously (a worker that is not scheduled, or gone).
 */
const PAUSE_ACK_BLOCK_MS = 20;

/** States in which a resumed vCPU runs: writing, or asleep until its next batch. */
const RUNS: readonly number[] = [VcpuRunState.RUNNING, VcpuRunState.SLEEPING];
const PAUSED: readonly number[] = [VcpuRunState.PAUSED];

/** A vCPU: a worker thread dirtying guest RAM, controlled through a shared block. */
export class Vcpu {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  #exited: Promise<void>;
  #error: Error | undefined;

  /**
   * Starts the vCPU paused, on `thread` (a worker started ahead by {@link VcpuThreads})
   * when given, else on a new worker thread.
   */
  constructor(
    memory: GuestMemory,
    index: number,
    workload: Workload,
    seed: number,
    thread?: Worker,
  ) {
    const control = new SharedArrayBuffer(VCPU_CONTROL_SLOTS * 4);
    this.#control = new Int32Array(control);
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.PAUSE);
    const data: VcpuWorkerData = {
      layout: memory.layout,
      control,
      workload,
      seed,
      vcpu: index,
    };
    this.#worker = thread ?? startVcpuThread();
    this.#worker.postMessage(data);
    this.#exited = new Promise((resolve) => {
      this.#worker.once("error", (err) => {
        this.#error = err;
        resolve();
      });
      this.#worker.once("exit", () => resolve());
    });
  }

  /** Pages this vCPU has written so far. */
  get writes(): number {
    return Atomics.load(this.#control, VcpuSlot.WRITES);
  }

  async #await(states: readonly number[], timeoutMs: number): Promise<void> {
    // A pending Atomics.waitAsync does not keep Node's event loop alive (the worker is
    // unref'd): hold a timer for the whole wait, or a process awaiting a vCPU may just exit.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await this.#poll(states, timeoutMs);
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #poll(states: readonly number[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#error)
        throw new MdevError("EIO", `vCPU worker failed: ${this.#error.message}`, {
          cause: this.#error,
        });
      const current = Atomics.load(this.#control, VcpuSlot.STATE);
      if (states.includes(current)) return;
      if (current === VcpuRunState.EXITED) throw new MdevError("EIO", "vCPU worker exited");
      const left = deadline - performance.now();
      if (left <= 0)
        throw new MdevError(
          "ETIMEDOUT",
          `vCPU did not reach state ${states.join(" or ")} within ${timeoutMs} ms`,
        );
      const wait = Atomics.waitAsync(this.#control, VcpuSlot.STATE, current, Math.min(left, 50));
      if (wait.async) await wait.value;
    }
  }

  /** Lets the vCPU run; resolves once it runs. */
  async resume(): Promise<void> {
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.RUN);
    Atomics.notify(this.#control, VcpuSlot.COMMAND);
    await this.#await(RUNS, 10_000);
  }

  /** Stops the vCPU; resolves once it has acknowledged, so no write follows. */
  async pause(): Promise<void> {
    this.requestPause();
    await this.awaitPaused();
  }

  /** Tells the vCPU to stop, without waiting for it ({@link awaitPaused} does). */
  requestPause(): void {
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.PAUSE);
    Atomics.notify(this.#control, VcpuSlot.COMMAND);
  }

  /**
   * Resolves once the vCPU has acknowledged a pause. A vCPU asleep between batches is
   * paused at once by exchanging its state: waking it and getting it scheduled on a busy
   * 2-core VM put 0.1–2.3 ms of pause into the downtime (0.03–0.4 ms since). One that is
   * mid-batch answers within a batch and never needs this thread to do so: the thread
   * blocks on it for up to {@link PAUSE_ACK_BLOCK_MS}, as QEMU's pause_all_vcpus waits, so
   * timers and I/O callbacks do not run before the pause, then waits asynchronously.
   */
  async awaitPaused(): Promise<void> {
    const c = this.#control;
    // Asleep between batches: the pause is taken without waking it (see VcpuRunState).
    const was = Atomics.compareExchange(
      c,
      VcpuSlot.STATE,
      VcpuRunState.SLEEPING,
      VcpuRunState.PAUSED,
    );
    if (was === VcpuRunState.SLEEPING) return;
    this.#block(VcpuRunState.PAUSED, PAUSE_ACK_BLOCK_MS);
    await this.#await(PAUSED, 10_000);
  }

  /** Blocks this thread until the vCPU is in `state`, it exited, or `ms` passed. */
  #block(state: number, ms: number): void {
    const deadline = performance.now() + ms;
    for (;;) {
      const current = Atomics.load(this.#control, VcpuSlot.STATE);
      if (current === state || current === VcpuRunState.EXITED) return;
      const left = deadline - performance.now();
      if (left <= 0) return;
      Atomics.wait(this.#control, VcpuSlot.STATE, current, left);
    }
  }

  /** Sets the auto-converge throttle (percent of time held off, 0–99). */
  setThrottle(percent: number): void {
    Atomics.store(this.#control, VcpuSlot.THROTTLE, Math.max(0, Math.min(99, Math.round(percent))));
  }

  /** Ends the worker. */
  async destroy(): Promise<void> {
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.EXIT);
    Atomics.notify(this.#control, VcpuSlot.COMMAND);
    const timer = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(timer);
  }
}
