// Entry point of one vCPU worker thread: says it is ready, then dirties guest RAM at the
// workload's rate, for the VM of the first message it gets, until told to exit. A thread
// may be started ahead of its VM (VcpuThreads). Runs as compiled JS
// (dist/vm/vcpu-worker.js); see worker-url.ts.
import { parentPort } from "node:worker_threads";
import { GuestMemory } from "../memory/guest-memory.js";
import {
  VCPU_THREAD_READY,
  VcpuCommand,
  VcpuRunState,
  VcpuSlot,
  type VcpuWorkerData,
} from "./vcpu-control.js";
import { createPagePicker } from "./workload-pattern.js";

// Writes per check of the command word: small enough to pause within a millisecond even at
// tens of millions of pages per second, large enough to keep Atomics traffic negligible.
const BATCH = 64;

parentPort?.once("message", (data: VcpuWorkerData) => run(data));
parentPort?.postMessage(VCPU_THREAD_READY);

/** Runs the vCPU `data` describes until told to exit, then ends the thread. */
function run(data: VcpuWorkerData): void {
  const memory = GuestMemory.fromLayout(data.layout);
  const control = new Int32Array(data.control);
  const workload = data.workload;
  const rate = workload.pattern === "idle" ? 0 : workload.pagesPerSecond;
  const picker = createPagePicker(workload, memory.pages, data.seed, data.vcpu);
  // The value stored in each written page: a per-vCPU counter, so content really changes.
  const stamp = new Uint8Array(8);
  const stampView = new DataView(stamp.buffer);

  const setState = (state: number): void => {
    Atomics.store(control, VcpuSlot.STATE, state);
    Atomics.notify(control, VcpuSlot.STATE);
  };

  let written = 0;
  let credit = 0;
  let last = performance.now();
  setState(VcpuRunState.RUNNING);
  for (;;) {
    const command = Atomics.load(control, VcpuSlot.COMMAND);
    if (command === VcpuCommand.EXIT) break;
    if (command === VcpuCommand.PAUSE) {
      setState(VcpuRunState.PAUSED);
      Atomics.wait(control, VcpuSlot.COMMAND, VcpuCommand.PAUSE);
      continue;
    }
    if (Atomics.load(control, VcpuSlot.STATE) === VcpuRunState.PAUSED) {
      // Resumed: from the pause above, or from one the main thread took while this slept.
      setState(VcpuRunState.RUNNING);
      last = performance.now();
      credit = 0;
    }
    const now = performance.now();
    const throttle = Atomics.load(control, VcpuSlot.THROTTLE);
    credit += ((now - last) / 1000) * rate * (1 - throttle / 100);
    last = now;
    // Cap the backlog so a vCPU descheduled for a while does not burst unrealistically.
    credit = Math.min(credit, rate / 100 + BATCH);
    const n = Math.min(BATCH, Math.floor(credit));
    if (n === 0) {
      // Sleep ~1 ms, but wake at once when the command word changes. An idle vCPU has no
      // credit to wait for and sleeps until the next command: waking a thousand times a
      // second would take CPU from the migration on a machine with no core to spare.
      // Asleep as SLEEPING, so a pause needs no wake-up (see VcpuRunState); a failed
      // exchange back means the main thread took that pause, and the loop's top sees it.
      if (
        Atomics.compareExchange(
          control,
          VcpuSlot.STATE,
          VcpuRunState.RUNNING,
          VcpuRunState.SLEEPING,
        ) === VcpuRunState.RUNNING
      ) {
        Atomics.wait(control, VcpuSlot.COMMAND, command, rate === 0 ? undefined : 1);
        Atomics.compareExchange(
          control,
          VcpuSlot.STATE,
          VcpuRunState.SLEEPING,
          VcpuRunState.RUNNING,
        );
      }
      continue;
    }
    for (let i = 0; i < n; i++) {
      const page = picker.next();
      written++;
      stampView.setUint32(0, data.vcpu, true);
      stampView.setUint32(4, written, true);
      // Spread stamps across the page so page content differs beyond the first bytes.
      memory.write(page * 4096 + ((written * 8) & 4095), stamp);
    }
    credit -= n;
    Atomics.store(control, VcpuSlot.WRITES, written & 0x7fff_ffff);
  }
  setState(VcpuRunState.EXITED);
  parentPort?.close();
}
