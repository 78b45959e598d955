// The memory budget bounds what the process holds. Before the fix a dropped VM's share was
// counted free at once while its RAM stayed resident until a later garbage collection (or
// longer, while anything — a vCPU worker — still referenced the buffers): a loop of
// abandoned handshakes grew a listener past its budget until the kernel OOM-killed it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GuestMemory, parseVmConfig, TargetCapacity } from "../../../src/index.js";
import { nativePageRoutines } from "../../../src/memory/native-page-routines.js";

const MIB = 2 ** 20;

function residentMiB(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
}

describe("a dropped VM's RAM and the memory budget", () => {
  it.skipIf(nativePageRoutines?.releasePages === undefined)(
    "leaves the process before its share counts as free, however referenced",
    async () => {
      const capacity = new TargetCapacity({ maxMemoryMiB: 512 });
      const admission = capacity.admit(parseVmConfig({ memoryMiB: 256 }));
      const memory = GuestMemory.create({ size: 256 * MIB });
      memory.prefault();
      memory.write(12345, Uint8Array.of(1, 2, 3));
      const built = residentMiB();
      await admission.discard(memory);
      expect(capacity.hostedMiB).toBe(0);
      // `memory` is still referenced here, as a vCPU worker's copy of it may be.
      expect(built - residentMiB()).toBeGreaterThan(192);
      expect(memory.read(12345, 3)).toEqual(new Uint8Array(3));
    },
  );

  it("without the addon, stays counted until the runtime collected it", () => {
    const dist = (path: string) =>
      JSON.stringify(new URL(`../../../dist/${path}`, import.meta.url).href);
    // The modules themselves: the package's entry point needs a reflect polyfill first.
    const script = `
      const { TargetCapacity } = await import(${dist("engine/target-capacity.js")});
      const { GuestMemory } = await import(${dist("memory/guest-memory.js")});
      const { parseVmConfig } = await import(${dist("vm/vm-config.js")});
      const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
      const admission = capacity.admit(parseVmConfig({ memoryMiB: 32 }));
      await admission.discard(GuestMemory.create({ size: 32 * 2 ** 20 }));
      const counted = capacity.hostedMiB;
      for (let i = 0; i < 20 && capacity.hostedMiB > 0; i++) {
        await new Promise((r) => setImmediate(r));
        gc();
        await new Promise((r) => setImmediate(r));
      }
      console.log(JSON.stringify([counted, capacity.hostedMiB]));`;
    const out = execFileSync(
      process.execPath,
      ["--expose-gc", "--input-type=module", "-e", script],
      { env: { ...process.env, MDEVKIT_NATIVE: "0" }, encoding: "utf8" },
    );
    expect(JSON.parse(out)).toEqual([32, 0]);
  });
});
