/** The plugins the matrix runs, each in a small VM that dirties RAM while it migrates. */
export const PLUGINS = ["mtty", "gvt-g", "sriov-nic", "accel"] as const;

/** A plugin of the matrix. */
export type PluginName = (typeof PLUGINS)[number];

const DEVICE: Record<PluginName, Record<string, unknown>> = {
  mtty: { slot: "00:05.0", plugin: "mtty", deviceType: "mtty-2" },
  "gvt-g": { slot: "00:02.0", plugin: "gvt-g", deviceType: "GVTg_V5_8" },
  "sriov-nic": {
    slot: "00:06.0",
    plugin: "sriov-nic",
    deviceType: "igbvf-2q",
    options: { profile: "default", migration: "p2p-precopy" },
  },
  // Its rings at 16 MiB, above the vCPUs' hot set (see vmConfig).
  accel: {
    slot: "00:07.0",
    plugin: "accel",
    deviceType: "hisi-zip",
    options: { regionGpa: 16 * 2 ** 20 },
  },
};

/**
 * A 32 MiB VM with the plugin's device: big enough for several RAM records per pass (the
 * `iter-1` trigger is the 4th), small enough that a cell takes seconds; a hot set keeps
 * pages dirty so there is a second pass and RAM changes while it runs. The simulated vCPUs
 * stamp pages blindly, so they stay in the low 4 MiB: device rings elsewhere in RAM are
 * not scribbled on by a "guest" that does not know they are there (as in the demo VM).
 */
export function vmConfig(plugin: PluginName): Record<string, unknown> {
  return {
    name: `faults-${plugin}`,
    memoryMiB: 32,
    vcpus: 1,
    initialFill: 0.5,
    workloads: [{ pattern: "hot-set", pagesPerSecond: 5000, hotSetPages: 1024, hotFraction: 1 }],
    devices: [DEVICE[plugin]],
    deviceTickMs: 2,
    seed: 14,
  };
}
