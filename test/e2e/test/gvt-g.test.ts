// Issue #10, "Must show": `mdevkit migrate`/`listen` with a VM config holding a GVTg_V5_4
// vGPU migrates between two processes, and the device check says identical.
import { afterEach, describe, expect, it } from "vitest";
import { migrateConfig } from "../helpers/migrate.js";
import { cleanup, writeJson } from "../helpers/processes.js";

afterEach(cleanup);

describe.each(["iommu-pinned", "vendor-bitmap"])("a VM with a GVTg_V5_4 vGPU (%s)", (method) => {
  it("migrates between two processes; RAM and the vGPU arrive identical", async () => {
    const config = writeJson(`gvtg-${method}.json`, {
      name: "gvtg-vm",
      memoryMiB: 256,
      vcpus: 1,
      workloads: [{ pattern: "hot-set", pagesPerSecond: 5000, hotSetPages: 1024 }],
      devices: [
        {
          slot: "00:02.0",
          plugin: "gvt-g",
          deviceType: "GVTg_V5_4",
          dirtyTracking: method,
          options: { profile: "heavy" },
        },
      ],
      deviceTickMs: 2,
      seed: 7,
    });
    const { src } = await migrateConfig(config, {
      target: ["--run-for", "200"],
      source: ["--warmup", "300"],
    });
    const vgpu = src.devices["00:02.0"] as Record<string, unknown>;
    expect(vgpu).toMatchObject({
      vgpuType: "GVTg_V5_4",
      profile: "heavy",
      guestDriverLoaded: true,
    });
    // The whole 1.25 MiB GGTT of a V5_4 partition, and the guest had run its GPU.
    expect(vgpu["ggtt"]).toMatchObject({ entries: 163_840 });
    expect(vgpu["tick"]).toBeGreaterThan(0);
  });
});
