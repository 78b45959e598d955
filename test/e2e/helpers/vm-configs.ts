import { writeJson } from "./processes.js";

/**
 * The small VM of issue #9, written as a config file: 256 MiB, one mtty, a vCPU dirtying
 * 2000 pages/s at random. It converges in a pass or two: for tests about what a
 * migration carries, not how long it takes.
 */
export function smallVmConfig(): string {
  return writeJson("small.json", {
    name: "small-vm",
    memoryMiB: 256,
    vcpus: 1,
    initialFill: 0.5,
    workloads: [{ pattern: "uniform", pagesPerSecond: 2000 }],
    devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-1" }],
    seed: 5,
  });
}
