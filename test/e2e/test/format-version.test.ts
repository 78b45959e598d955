// `migrate --format-version`: a source writes an older stream format for a target of an
// older mdevkit. This build's listener reads versions 2–4; each must migrate the VM whole,
// its END digest in that version's form (a wrong form fails the target's RAM check).
import { afterEach, describe, it } from "vitest";
import { migrateConfig } from "../helpers/migrate.js";
import { cleanup, writeJson } from "../helpers/processes.js";

afterEach(cleanup);

function vm(): string {
  return writeJson("format-version.json", {
    name: "format-version-vm",
    memoryMiB: 128,
    vcpus: 1,
    initialFill: 0.5,
    workloads: [{ pattern: "uniform", pagesPerSecond: 2000 }],
    devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-1" }],
    seed: 6,
  });
}

describe("migrate --format-version", () => {
  it.each(["2", "3"])("writes version %s, and the VM arrives identical", async (version) => {
    await migrateConfig(vm(), { source: ["--format-version", version] });
  });
});
