// Issue #11: `mdevkit migrate`/`listen` with a VM config holding an SR-IOV NIC VF migrates
// between two processes, and the device check says identical.
import { afterEach, describe, expect, it } from "vitest";
import { migrateConfig } from "../helpers/migrate.js";
import { cleanup, writeJson } from "../helpers/processes.js";

afterEach(cleanup);

describe.each([
  ["p2p-precopy", true],
  ["stop-copy", false],
] as const)("a VM with a sriov-nic VF (%s)", (migration, p2p) => {
  it("migrates between two processes; RAM and the VF arrive identical", async () => {
    const config = writeJson(`sriov-nic-${migration}.json`, {
      name: "nic-vm",
      memoryMiB: 64,
      vcpus: 1,
      workloads: [{ pattern: "hot-set", pagesPerSecond: 5000, hotSetPages: 1024, hotFraction: 1 }],
      devices: [
        {
          slot: "00:06.0",
          plugin: "sriov-nic",
          deviceType: "igbvf-2q",
          options: { profile: "default", migration },
        },
      ],
      deviceTickMs: 1,
      seed: 11,
    });
    const { src } = await migrateConfig(config, {
      target: ["--run-for", "200"],
      source: ["--warmup", "300", ...(p2p ? [] : ["--no-p2p"])],
    });
    const vf = src.devices["00:06.0"] as Record<string, unknown>;
    // The guest driver had programmed both queue pairs and traffic had flowed.
    expect(vf["rx"]).toMatchObject([{ enabled: true }, { enabled: true }]);
    expect((vf["stats"] as Record<string, number>)["gprc"]).toBeGreaterThan(0);
    expect((vf["stats"] as Record<string, number>)["gptc"]).toBeGreaterThan(0);
    expect(vf["link"]).toEqual({ up: true, speedMbps: 1000 });
  });
});
