import type { Workload } from "./vm-config.js";

/**
 * The control block a vCPU worker and the main thread share: one Int32Array over a
 * SharedArrayBuffer, so pausing needs no message round trip — the worker sees the
 * command within one batch of writes (well under a millisecond) and acknowledges by
 * flipping STATE, which the main thread awaits with Atomics.waitAsync.
 */
export const VcpuSlot = {
  /** Command from the main thread: {@link VcpuCommand}. */
  COMMAND: 0,
  /** Worker's acknowledged state: {@link VcpuRunState}. */
  STATE: 1,
  /** Auto-converge throttle, percent of time the vCPU is held off (0–99). */
  THROTTLE: 2,
  /** Pages written so far (wraps at 2^31). */
  WRITES: 3,
} as const;

/** Commands the main thread gives. */
export const VcpuCommand = { RUN: 0, PAUSE: 1, EXIT: 2 } as const;
/**
 * States the worker acknowledges. SLEEPING is RUNNING between batches: no write is in
 * progress and none starts before the worker compare-exchanges SLEEPING back to RUNNING,
 * so the main thread may take a pause by compare-exchanging SLEEPING to PAUSED, without
 * waiting for a sleeping thread to be woken and scheduled.
 */
export const VcpuRunState = { STARTING: 0, RUNNING: 1, PAUSED: 2, EXITED: 3, SLEEPING: 4 } as const;

/** Number of Int32 slots in a control block. */
export const VCPU_CONTROL_SLOTS = 4;

/**
 * What a vCPU thread started ahead of its VM ({@link VcpuThreads}) posts once its modules
 * are loaded; its {@link VcpuWorkerData} then comes as its first message.
 */
export const VCPU_THREAD_READY = "vcpu-thread-ready";

/** What a vCPU worker receives, as its first message: the vCPU it runs. */
export interface VcpuWorkerData {
  /** {@link GuestMemory.layout} of the VM. */
  readonly layout: unknown;
  /** The shared control block (VCPU_CONTROL_SLOTS Int32s). */
  readonly control: SharedArrayBuffer;
  /**
   * The vCPU's workload: an entry of a VmConfig that `parseVmConfig` already validated on
   * the main thread, so the worker does not load zod to check it again (a worker's module
   * graph is loaded afresh, and zod alone costs about 120 ms of CPU there).
   */
  readonly workload: Workload;
  /** VM seed. */
  readonly seed: number;
  /** vCPU index. */
  readonly vcpu: number;
}
