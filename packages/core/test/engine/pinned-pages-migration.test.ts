// A device whose dirty pages come from the IOMMU (its pinned ring, reported whether written
// or not) migrates with the ring pages it did not write left out once the target holds
// them (format version 5), and the guest's RAM arrives identical. A source writing version
// 4 sends every reported page.
import { afterEach, describe, expect, it } from "vitest";
import { createHost, MigrationSource, type SimulatedVm } from "../../src/index.js";
import { dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import { memoryTarget, startVm } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** A host whose toy device pins a 256-page ring and writes one page of it per tick. */
const pinningHost = (name: string) =>
  createHost({
    name,
    plugins: [dmaToyPlugin({ dirtyTracking: "iommu-pinned", ringPages: 256 })],
  });

/** Migrates the small VM with its pinning device in stream format `formatVersion`. */
async function migrate(formatVersion: number) {
  const vm = await startVm(pinningHost("src"), vms);
  const { source, received } = memoryTarget(pinningHost("dst"), vms);
  // Settle passes after the first: each one's sync reports the whole ring again.
  const result = await new MigrationSource(vm, source, {
    downtimeLimitMs: 60_000,
    settlePasses: 3,
    verifyRam: true,
    formatVersion,
  }).migrate();
  const arrived = await received;
  expect(arrived.ramSha256).toBe(result.ramSha256);
  expect(arrived.ramDigest).toBe(result.ramDigest);
  return result;
}

describe("pinned pages the device did not write", () => {
  it("are left out once the target holds them, and RAM arrives identical (version 5)", async () => {
    const result = await migrate(5);
    const held = result.iterations.reduce((n, i) => n + i.unchangedPages, 0);
    // The ring is reported at every sync; after its first pass most of it is unchanged.
    expect(held + result.finalUnchangedPages).toBeGreaterThan(0);
    // Every page a pass found dirty is sent or left out, none forgotten.
    for (const i of result.iterations.slice(1))
      expect(i.dataPages + i.zeroPages + i.unchangedPages).toBe(i.dirtyPagesFound);
  });

  it("are all sent in version 4, which cannot leave pages out", async () => {
    const result = await migrate(4);
    expect(result.iterations.every((i) => i.unchangedPages === 0)).toBe(true);
    expect(result.finalUnchangedPages).toBe(0);
  });
});
