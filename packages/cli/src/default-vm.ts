import type { VmConfigInput } from "@mdevkit/core";

/**
 * The VM `migrate` and `save` build when given no config: small and quick, with a
 * realistic mix — half of RAM zero, two vCPUs dirtying a hot working set and streaming
 * through memory, and a serial device doing DMA.
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

/**
 * The seed's VM, which `mdevkit demo` migrates by default: the 2017 GVT-g talk's guest
 * (2 vCPUs, 2 GiB, a GVTg_V5_4 vGPU drawing a 1920×1200 desktop under its heavy profile)
 * plus a NIC VF and an accelerator VF, so one migration carries all three device kinds.
 *
 * Half of RAM is zero. The vCPUs dirty about 100 MB/s, all of it in the low quarter of RAM
 * (at most 48 MiB): a simulated vCPU writes stamps wherever its pattern points, and the
 * accelerator's rings (in the middle of RAM) and the NIC's (at its top) must not be
 * scribbled on by a "guest" that does not know they are there. The vGPU's pages share the
 * low range, as its bench and e2e tests run them.
 */
export function seedVmConfig(memoryMiB = 2048): VmConfigInput {
  const pages = (memoryMiB * 2 ** 20) / 4096;
  return {
    name: "seed-vm",
    memoryMiB,
    vcpus: 2,
    initialFill: 0.5,
    workloads: [
      {
        pattern: "hot-set",
        pagesPerSecond: 20_000,
        hotSetPages: Math.min(4096, Math.floor(pages / 4)),
        hotFraction: 1,
      },
      {
        pattern: "hot-set",
        pagesPerSecond: 5_000,
        hotSetPages: Math.min(12_288, Math.floor(pages / 4)),
        hotFraction: 1,
      },
    ],
    devices: [
      { slot: "00:02.0", plugin: "gvt-g", deviceType: "GVTg_V5_4", options: { profile: "heavy" } },
      { slot: "00:06.0", plugin: "sriov-nic", deviceType: "igbvf-2q", options: {} },
      {
        slot: "00:07.0",
        plugin: "accel",
        deviceType: "hisi-zip",
        options: { regionGpa: Math.floor(memoryMiB / 2) * 2 ** 20 },
      },
    ],
    deviceTickMs: 1,
    seed: 1,
  };
}
