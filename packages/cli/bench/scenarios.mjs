// The VMs the benchmark migrates. Each is a plain VM config (what `migrate --config` reads).
import { defaultVmConfig, seedVmConfig } from "../dist/index.js";

/**
 * The RAM-static VM of issue #13: 1 idle vCPU, no devices, ¾ of RAM random and ¼ zero
 * (1.5 GiB + 0.5 GiB at 2 GiB) — the same bytes QEMU's blob scenario moves.
 */
export function ramStaticVm(memoryMiB) {
  return {
    name: "ram-static",
    memoryMiB,
    vcpus: 1,
    initialFill: 0.75,
    workloads: [{ pattern: "idle" }],
    devices: [],
    seed: 13,
  };
}

/** The seed's VM (the demo's default): 2 vCPUs dirtying, GVTg_V5_4 heavy, a NIC VF, an accelerator. */
export const seedVm = (memoryMiB) => seedVmConfig(memoryMiB);

/**
 * The dirtying VM the demo goal names (the demo's VM before #13): 2 vCPUs dirtying
 * about 100 MB/s (a hot set and a sequential stream), half of RAM zero, one mtty.
 */
export const dirtyingVm = (memoryMiB) => ({ ...defaultVmConfig(memoryMiB), name: "dirtying-vm" });

/** One vCPU writing `pagesPerSecond` pages uniformly at random over all of RAM, no devices. */
export function dirtyRateVm(memoryMiB, pagesPerSecond) {
  return {
    name: "dirty-rate",
    memoryMiB,
    vcpus: 1,
    initialFill: 0.5,
    workloads:
      pagesPerSecond > 0 ? [{ pattern: "uniform", pagesPerSecond }] : [{ pattern: "idle" }],
    devices: [],
    seed: 17,
  };
}

/** Where the device-count VM puts device `i`'s guest-driver region: 16 MiB apart from 64 MiB. */
const regionOf = (i) => (64 + 16 * i) * 2 ** 20;

/**
 * An idle VM with `count` devices, cycling NIC VF, accelerator VF and mtty, each NIC and
 * accelerator with its own guest region (two devices' rings must not overlap).
 */
export function deviceCountVm(memoryMiB, count) {
  const devices = [];
  for (let i = 0; i < count; i++) {
    const slot = `00:${(3 + i).toString(16).padStart(2, "0")}.0`;
    const kind = i % 3;
    if (kind === 0)
      devices.push({
        slot,
        plugin: "sriov-nic",
        deviceType: "igbvf-2q",
        options: { guestBase: regionOf(i) },
      });
    else if (kind === 1)
      devices.push({
        slot,
        plugin: "accel",
        deviceType: "hisi-zip",
        options: { regionGpa: regionOf(i) },
      });
    else devices.push({ slot, plugin: "mtty", deviceType: "mtty-2", options: {} });
  }
  return {
    name: `devices-${count}`,
    memoryMiB,
    vcpus: 1,
    initialFill: 0.5,
    workloads: [{ pattern: "idle" }],
    devices,
    deviceTickMs: 1,
    seed: 19,
  };
}
