import { MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { pteOf } from "../src/ggtt.js";
import { ptPageGfn, rootTypeOf } from "../src/guest-driver.js";
import { CTX_SLOTS, LEAVES_PER_MM } from "../src/guest-layout.js";
import {
  dePipeIsr,
  frameCount,
  GTT_WINDOW_OFFSET,
  IIR,
  IMR,
  PIPE_VBLANK,
} from "../src/registers.js";
import { expectedPins, gvtgHarness, pinnedGfns, sorted, ticks } from "./helpers.js";

describe("vGPU model (GVTg_TEST)", () => {
  it("the guest driver's boot programs the GGTT and pins exactly the frames it maps", async () => {
    const h = await gvtgHarness();
    const v = h.driver.vgpu;
    expect(v.guestDriverLoaded).toBe(false);
    expect(pinnedGfns(h.iommu, h.memory.pages).size).toBe(0);
    h.driver.tick();
    expect(v.guestDriverLoaded).toBe(true);
    const L = v.layout;
    const present = L.fbPages + L.poolEntries + L.engines.length * (2 + CTX_SLOTS) + L.ptPages;
    let n = 0;
    for (let i = 0; i < v.ggtt.entries; i++) if (v.ggtt.present(i)) n++;
    expect(n).toBe(present);
    expect(sorted(pinnedGfns(h.iommu, h.memory.pages))).toEqual(sorted(expectedPins(h.driver)));
    // Host PTEs point at this host's DMA addresses, which translate back to the guest frame.
    for (let i = 0; i < v.ggtt.entries; i++) {
      if (v.ggtt.present(i)) expect(v.ggtt.hostGfn(i)).toBe(v.ggtt.gfn(i));
    }
  });

  it("workloads complete once each, in submission order, after 1–3 ticks", async () => {
    const h = await gvtgHarness();
    ticks(h.driver, 200);
    const v = h.driver.vgpu;
    for (let e = 0; e < v.engineCount; e++) {
      const done = v.completions.filter((c) => c.engine === e).map((c) => c.seq);
      const open = v.workloads(e).map((w) => w.seq);
      const all = [...done, ...open];
      expect(all).toEqual(Array.from({ length: v.lastSubmittedSeq(e) }, (_, i) => i + 1));
      for (const seq of [1, 2, 3]) expect(v.duration(e, seq)).toBeGreaterThanOrEqual(1);
    }
    expect(v.completions.length).toBeGreaterThan(50);
    for (const c of v.completions) expect(v.duration(c.engine, c.seq)).toBeLessThanOrEqual(3);
  });

  it("a 4-byte PTE write is parked until its other half arrives", async () => {
    const h = await gvtgHarness();
    h.driver.tick();
    const v = h.driver.vgpu;
    const index = v.layout.poolIndex + 3;
    const before = [v.ggtt.virtual[2 * index], v.ggtt.virtual[2 * index + 1]];
    const [lo, hi] = pteOf(v.layout.poolGfn + 40);
    h.driver.guestMmioWrite(GTT_WINDOW_OFFSET + index * 8, lo);
    expect(v.ggtt.partial.get(index)).toBe(lo);
    expect([v.ggtt.virtual[2 * index], v.ggtt.virtual[2 * index + 1]]).toEqual(before);
    h.driver.guestMmioWrite(GTT_WINDOW_OFFSET + index * 8 + 4, hi);
    expect(v.ggtt.partial.size).toBe(0);
    expect(v.ggtt.gfn(index)).toBe(v.layout.poolGfn + 40);
    expect(v.ggtt.hostGfn(index)).toBe(v.layout.poolGfn + 40);
    expect(sorted(pinnedGfns(h.iommu, h.memory.pages))).toEqual(sorted(expectedPins(h.driver)));
  });

  it("PPGTT: first use shadows from guest memory, write-protects the tables, traps leaf edits", async () => {
    const h = await gvtgHarness();
    ticks(h.driver, 120);
    const v = h.driver.vgpu;
    const read = (gfn: number) => h.memory.read(gfn * 4096, 4096);
    let shadowed = 0;
    for (let m = 0; m < v.type.maxPpgttMms; m++) {
      if (!v.ppgtt.isShadowed(m)) continue;
      shadowed++;
      for (let j = 0; j < LEAVES_PER_MM; j++) {
        const gma = j * 4096 + 123;
        const guest = v.ppgtt.guestWalk(m, gma, read);
        expect(guest).toBeDefined();
        expect(v.ppgtt.shadowWalk(m, gma)).toBe(guest);
      }
      const wp = v.ppgtt.writeProtected();
      const levels = rootTypeOf(m) === 4 ? [4, 3, 2, 1] : [2, 1];
      for (const l of levels) expect(wp.has(ptPageGfn(v, m, l))).toBe(true);
    }
    expect(shadowed).toBeGreaterThan(0);
    expect(sorted(pinnedGfns(h.iommu, h.memory.pages))).toEqual(sorted(expectedPins(h.driver)));
  });

  it("stop drains running workloads (their writes happen before the arc returns) and keeps queued ones", async () => {
    const h = await gvtgHarness();
    // Find a tick after which a workload is running.
    let guard = 0;
    while (!h.driver.vgpu.workloads(0).some((w) => w.running) && guard++ < 100) h.driver.tick();
    const v = h.driver.vgpu;
    const done = v.completions.length;
    const queued = v
      .workloads(0)
      .filter((w) => !w.running)
      .map((w) => w.seq);
    await h.driver.setState(MigState.STOP);
    expect(v.completions.length).toBeGreaterThan(done);
    expect(v.workloads(0).map((w) => w.seq)).toEqual(queued);
    const writes = h.trace.events.length;
    ticks(h.driver, 50);
    expect(h.trace.events.length).toBe(writes);
  });

  it("vblank every 16 ticks per enabled pipe; pipe B's masked window leaves a latched event", async () => {
    const h = await gvtgHarness();
    ticks(h.driver, 11); // boot at tick 0, pipe B vblank at tick 9 then masked
    const v = h.driver.vgpu;
    expect(v.vreg.get(frameCount(0))).toBe(1);
    expect(v.vreg.get(frameCount(1))).toBe(1);
    expect(v.vreg.get(frameCount(2))).toBe(0);
    expect(v.vreg.get(dePipeIsr(1) + IMR) & PIPE_VBLANK).toBe(PIPE_VBLANK);
    expect(v.vreg.get(dePipeIsr(1) + IIR) & PIPE_VBLANK).toBe(PIPE_VBLANK);
    ticks(h.driver, 16 * 4);
    expect(v.vreg.get(frameCount(0))).toBe(5);
  });

  it("reset returns every pin and leaves the vGPU as created", async () => {
    const h = await gvtgHarness();
    ticks(h.driver, 60);
    expect(pinnedGfns(h.iommu, h.memory.pages).size).toBeGreaterThan(0);
    await h.driver.reset();
    expect(pinnedGfns(h.iommu, h.memory.pages).size).toBe(0);
    expect(h.driver.vgpu.guestDriverLoaded).toBe(false);
    expect(h.driver.vgpu.tick).toBe(0);
  });

  it("a guest MMIO access while stopped is refused with EBUSY", async () => {
    const h = await gvtgHarness();
    h.driver.tick();
    await h.driver.setState(MigState.STOP);
    expect(() => h.driver.guestMmioWrite(0xb100, 1)).toThrow(
      expect.objectContaining({ code: "EBUSY" }),
    );
  });

  it("options are validated, and a tracking method it does not offer is refused", async () => {
    await expect(gvtgHarness({ options: { profile: "ultra" } })).rejects.toMatchObject({
      code: "EINVAL",
    });
    await expect(gvtgHarness({ options: { nope: 1 } })).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("heavy profile: 64 render pages per rcs0 completion", async () => {
    const h = await gvtgHarness({ options: { profile: "heavy" } });
    expect(h.driver.vgpu.renderPages).toBe(64);
    expect(h.driver.vgpu.layout.fbPages).toBe(96);
    ticks(h.driver, 40);
    const rcs = h.driver.vgpu.completions.filter((c) => c.engine === 0).length;
    expect(rcs).toBeGreaterThan(5);
  });
});
