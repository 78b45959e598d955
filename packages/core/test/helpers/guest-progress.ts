import { expect } from "vitest";
import type { SimulatedVm } from "../../src/index.js";

/**
 * How long a test waits for a vCPU thread or a device to make progress, polling. Progress is
 * waited for, never timed: on a loaded machine a thread may not run for tens of
 * milliseconds, which says nothing about the code under test.
 */
export const PROGRESS_TIMEOUT = { timeout: 20_000, interval: 5 } as const;

/** Waits until `vm`'s vCPUs write again: the guest runs. Fails after {@link PROGRESS_TIMEOUT}. */
export async function expectGuestWrites(vm: SimulatedVm): Promise<void> {
  const before = vm.vcpuWrites;
  await expect.poll(() => vm.vcpuWrites, PROGRESS_TIMEOUT).toBeGreaterThan(before);
}
