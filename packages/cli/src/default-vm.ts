import type { VmConfigInput } from "@mdevkit/core";

/**
 * The VM `mdevkit demo` migrates when given no config: sized to finish in a few seconds
 * on a 2-core machine, with a realistic mix — half of RAM zero, two vCPUs dirtying a hot
 * working set and streaming through memory, and a serial device doing DMA.
 */
export function defaultVmConfig(memoryMiB = 1024): VmConfigInput {
  return {
    name: "demo-vm",
    memoryMiB,
    vcpus: 2,
    initialFill: 0.5,
    workloads: [
      { pattern: "hot-set", pagesPerSecond: 20_000, hotSetPages: 4096, hotFraction: 0.95 },
      { pattern: "sequential", pagesPerSecond: 5_000 },
    ],
    devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-2", options: {} }],
    deviceTickMs: 2,
    seed: 1,
  };
}
