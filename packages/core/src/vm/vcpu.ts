import { Worker } from "node:worker_threads";
import { MdevError } from "../errors/mdev-error.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import {
  VCPU_CONTROL_SLOTS,
  VcpuCommand,
  VcpuRunState,
  VcpuSlot,
  type VcpuWorkerData,
} from "./vcpu-control.js";
import type { Workload } from "./vm-config.js";
import { workerUrl } from "./worker-url.js";

/** A vCPU: a worker thread dirtying guest RAM, controlled through a shared block. */
export class Vcpu {
  readonly #worker: Worker;
  readonly #control: Int32Array;
  #exited: Promise<void>;
  #error: Error | undefined;

  constructor(memory: GuestMemory, index: number, workload: Workload, seed: number) {
    const control = new SharedArrayBuffer(VCPU_CONTROL_SLOTS * 4);
    this.#control = new Int32Array(control);
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.PAUSE);
    const workerData: VcpuWorkerData = {
      layout: memory.layout,
      control,
      workload,
      seed,
      vcpu: index,
    };
    this.#worker = new Worker(workerUrl("vcpu-worker", import.meta.url), { workerData });
    this.#worker.unref();
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

  async #await(state: number, timeoutMs: number): Promise<void> {
    // A pending Atomics.waitAsync does not keep Node's event loop alive (the worker is
    // unref'd): hold a timer for the whole wait, or a process awaiting a vCPU may just exit.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await this.#poll(state, timeoutMs);
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #poll(state: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#error)
        throw new MdevError("EIO", `vCPU worker failed: ${this.#error.message}`, {
          cause: this.#error,
        });
      const current = Atomics.load(this.#control, VcpuSlot.STATE);
      if (current === state) return;
      if (current === VcpuRunState.EXITED) throw new MdevError("EIO", "vCPU worker exited");
      const left = deadline - performance.now();
      if (left <= 0)
        throw new MdevError(
          "ETIMEDOUT",
          `vCPU did not reach state ${state} within ${timeoutMs} ms`,
        );
      const wait = Atomics.waitAsync(this.#control, VcpuSlot.STATE, current, Math.min(left, 50));
      if (wait.async) await wait.value;
    }
  }

  /** Lets the vCPU run; resolves once it runs. */
  async resume(): Promise<void> {
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.RUN);
    Atomics.notify(this.#control, VcpuSlot.COMMAND);
    await this.#await(VcpuRunState.RUNNING, 10_000);
  }

  /** Stops the vCPU; resolves once it has acknowledged, so no write follows. */
  async pause(): Promise<void> {
    Atomics.store(this.#control, VcpuSlot.COMMAND, VcpuCommand.PAUSE);
    Atomics.notify(this.#control, VcpuSlot.COMMAND);
    await this.#await(VcpuRunState.PAUSED, 10_000);
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
