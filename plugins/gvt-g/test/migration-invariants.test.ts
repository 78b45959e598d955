/**
 * The ten invariants of the GVT-g model, checked after real migrations through the
 * engine, for both dirty methods, with and without PRE_COPY.
 */
import { findLittleEndian } from "@mdevkit/conformance";
import { MigState } from "@mdevkit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ptPageGfn, rootTypeOf } from "../src/guest-driver.js";
import { LEAVES_PER_MM } from "../src/guest-layout.js";
import { dePipeIsr, frameCount, IIR, IMR, PIPE_VBLANK } from "../src/registers.js";
import { renderPage } from "../src/vgpu.js";
import { type Run, runMigration } from "./engine-run.js";
import { expectedPins, pinnedGfns, sorted } from "./helpers.js";

/** The framebuffer header each page must hold after `completions`, in order. */
function expectedFb(
  run: Run,
  completions: readonly { engine: number; seq: number }[],
): Map<number, number[]> {
  const v = run.src.vgpu;
  const last = new Map<number, number[]>();
  for (const c of completions) {
    const pages = v.type.engines[c.engine] === "rcs0" ? v.renderPages : 2;
    for (let k = 0; k < pages; k++) {
      const page = renderPage(v.seed, c.engine, c.seq, k, v.layout.fbPages);
      last.set(page, [c.seq, k, page, c.engine]);
    }
  }
  return last;
}

function header(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return [0, 4, 8, 12].map((o) => dv.getUint32(o, true));
}

const CONFIGS = [
  { method: "iommu-pinned", preCopy: true },
  { method: "iommu-pinned", preCopy: false },
  { method: "vendor-bitmap", preCopy: true },
  { method: "vendor-bitmap", preCopy: false },
] as const;

describe.each(CONFIGS)(
  "GVTg_TEST migrated with $method, PRE_COPY=$preCopy",
  ({ method, preCopy }) => {
    let run: Run;
    const TARGET_TICKS = 200;
    const vblanks: number[][] = [];

    beforeAll(async () => {
      run = await runMigration({ method, preCopy });
      // The target's guest runs on; record frame counters tick by tick.
      for (let i = 0; i < TARGET_TICKS; i++) {
        run.dst.tick();
        vblanks.push([0, 1].map((p) => run.dst.vgpu.vreg.get(frameCount(p))));
      }
    }, 60_000);

    afterAll(async () => {
      await run?.source.destroy();
      await run?.target.destroy();
    });

    it("completes; the target device runs and the source never runs again", () => {
      expect(run.dst.getState()).toBe(MigState.RUNNING);
      expect(run.src.getState()).not.toBe(MigState.RUNNING);
    });

    it("1. GGTT frames: same guest PTEs; host PTEs are this host's DMA addresses, none of the source's", () => {
      const a = run.arrival;
      expect(Array.from(a.ggtt)).toEqual(Array.from(run.src.vgpu.ggtt.virtual));
      const g = run.src.vgpu.ggtt;
      let present = 0;
      for (let i = 0; i < g.entries; i++) {
        if (!g.present(i)) continue;
        present++;
        expect(a.hostGfns[i]).toBe(g.gfn(i));
      }
      expect(present).toBeGreaterThan(0);
      const sourceDma = new Set(run.src.vgpu.host.dmaAddresses());
      expect(a.hostDma.filter((d) => sourceDma.has(d))).toEqual([]);
    });

    it("2. the stream holds no host DMA address, shadow frame, partition offset or host fence", async () => {
      const hostValues = run.src.hostOnlyValues();
      expect(hostValues.length).toBeGreaterThan(20);
      // The frozen source saves the very state it sent.
      if (run.src.getState() === MigState.STOP_COPY) await run.src.setState(MigState.STOP);
      const stream = await run.src.setState(MigState.STOP_COPY);
      const parts: Uint8Array[] = [];
      for (;;) {
        const b = await stream!.read(1 << 20);
        if (b.byteLength === 0) break;
        parts.push(b);
      }
      await run.src.setState(MigState.STOP);
      const bytes = new Uint8Array(Buffer.concat(parts));
      for (const v of hostValues) {
        expect(findLittleEndian(bytes, BigInt(v), 8)).toEqual([]);
        if (v < 2 ** 32) expect(findLittleEndian(bytes, BigInt(v), 4)).toEqual([]);
      }
    });

    it("3. PPGTT coherence: shadow walks match guest walks; every guest table page is write-protected", () => {
      const v = run.dst.vgpu;
      const read = (gfn: number) => run.target.memory.read(gfn * 4096, 4096);
      let shadowed = 0;
      for (let m = 0; m < v.type.maxPpgttMms; m++) {
        if (!v.ppgtt.isShadowed(m)) continue;
        shadowed++;
        for (let j = 0; j < LEAVES_PER_MM + 4; j++) {
          const gma = j * 4096 + 8;
          expect(v.ppgtt.shadowWalk(m, gma)).toBe(v.ppgtt.guestWalk(m, gma, read));
        }
        const wp = v.ppgtt.writeProtected();
        for (const l of rootTypeOf(m) === 4 ? [4, 3, 2, 1] : [2, 1])
          expect(wp.has(ptPageGfn(v, m, l))).toBe(true);
      }
      expect(shadowed).toBe(v.type.maxPpgttMms);
    });

    it("4. exactly-once execution: every submitted context completes once across source and target", () => {
      const s = run.src.vgpu;
      const t = run.dst.vgpu;
      for (let e = 0; e < t.engineCount; e++) {
        const done = [...s.completions, ...t.completions]
          .filter((c) => c.engine === e)
          .map((c) => c.seq);
        const open = t.workloads(e).map((w) => w.seq);
        expect([...done, ...open].sort((a, b) => a - b)).toEqual(
          Array.from({ length: t.lastSubmittedSeq(e) }, (_, i) => i + 1),
        );
        // Queued at STOP (still listed on the frozen source) means completed on the target.
        const targetDone = new Set(t.completions.filter((c) => c.engine === e).map((c) => c.seq));
        for (const w of s.workloads(e)) expect(targetDone.has(w.seq)).toBe(true);
      }
    });

    it("5. render output: the target's RAM holds every framebuffer page the source's GPU wrote", () => {
      const expected = expectedFb(run, run.src.vgpu.completions);
      expect(expected.size).toBeGreaterThan(0);
      for (const [page, want] of expected)
        expect(header(run.arrival.fbHeaders[page]!)).toEqual(want);
      // And after the target ran on, pages hold the last write of either side.
      const after = expectedFb(run, [...run.src.vgpu.completions, ...run.dst.vgpu.completions]);
      const v = run.dst.vgpu;
      for (const [page, want] of after) {
        expect(header(run.target.memory.read((v.layout.fbGfn + page) * 4096, 16))).toEqual(want);
      }
    });

    it("6. interrupts: none while stopped or loading; one MSI at RUNNING iff one was latched and unmasked", () => {
      // The target's count from creation to RUNNING (before any tick): only START's delivery.
      expect(run.arrival.irqs).toBe(run.pendingAtStop ? 1 : 0);
      expect(run.arrival.irqs).toBe(run.pendingAtStop ? 1 : 0);
    });

    it("7. quiescence: no DMA or MSI on either side between source STOP and target RUNNING", () => {
      expect(run.violations).toEqual([]);
    });

    it("8. register equality: vreg, sreg, config space and fences arrive unchanged", () => {
      const s = run.src.vgpu;
      expect(run.arrival.vreg).toEqual(s.vreg.entries());
      expect(run.arrival.sreg).toEqual(s.sreg.entries());
      expect(Array.from(run.arrival.cfg)).toEqual(Array.from(run.src.configRead(0, 4096)));
      expect(run.dst.vgpu.hostFences.length).toBe(s.type.fences);
    });

    it("9. display continuity: frame counters carry over, stay monotonic and tick within 2 periods", () => {
      const s = run.src.vgpu;
      const start = [0, 1].map((p) => s.vreg.get(frameCount(p)));
      let prev = start;
      for (const now of vblanks) {
        for (const p of [0, 1]) expect(now[p]!).toBeGreaterThanOrEqual(prev[p]!);
        prev = now;
      }
      // Within 32 ticks (two 16-tick periods) each enabled pipe saw a vblank.
      for (const p of [0, 1]) expect(vblanks[31]![p]!).toBeGreaterThan(start[p]!);
    });

    it("10. pin balance: source pins = its mapped frames, 0 after close; target pins = GGTT + shadowed leaves", async () => {
      expect(sorted(run.sourcePinsAtStop.pinned)).toEqual(sorted(run.sourcePinsAtStop.expected));
      expect(sorted(run.arrival.pinned)).toEqual(sorted(run.arrival.expectedPins));
      expect(sorted(pinnedGfns(run.target.iommu, run.target.memory.pages))).toEqual(
        sorted(expectedPins(run.dst)),
      );
      await run.source.destroy();
      expect(run.source.iommu.pinnedPages).toBe(0);
    });

    if (method === "vendor-bitmap") {
      it("precise ⊆ pinned at every vendor dirty report", () => {
        expect(run.reportsChecked).toBeGreaterThan(0);
        expect(run.violations.filter((v) => v.startsWith("precise"))).toEqual([]);
      });
    }
  },
);

describe("interrupt delivery across migration", () => {
  it("a latched but masked event stays pending on the target and raises no MSI", async () => {
    const run = await runMigration({
      method: "iommu-pinned",
      preCopy: true,
      pump: false,
      ticksBefore: 1,
      prepare: (src) => {
        // Run to a point where only pipe B's masked vblank is latched.
        const v = src.vgpu;
        for (let i = 0; i < 500; i++) {
          const masked =
            (v.vreg.get(dePipeIsr(1) + IIR) & v.vreg.get(dePipeIsr(1) + IMR) & PIPE_VBLANK) !== 0;
          const busy = [0, 1].some((e) => v.workloads(e).some((w) => w.running));
          // Nothing running either: the drain at STOP would latch a context switch.
          if (masked && !v.interruptPending && !busy) return;
          src.tick();
        }
        throw new Error("no masked-only point in 500 ticks");
      },
    });
    try {
      expect(run.pendingAtStop).toBe(false);
      expect(run.arrival.irqs).toBe(0);
      expect(run.dst.vgpu.vreg.get(dePipeIsr(1) + IIR) & PIPE_VBLANK).toBe(PIPE_VBLANK);
    } finally {
      await run.source.destroy();
      await run.target.destroy();
    }
  }, 60_000);

  it("a latched unmasked event produces exactly one MSI at target RUNNING", async () => {
    const run = await runMigration({
      method: "vendor-bitmap",
      preCopy: true,
      pump: false,
      prepare: (src) => {
        for (let i = 0; i < 100 && !src.vgpu.interruptPending; i++) src.tick();
      },
    });
    try {
      expect(run.pendingAtStop).toBe(true);
      expect(run.arrival.irqs).toBe(1);
    } finally {
      await run.source.destroy();
      await run.target.destroy();
    }
  }, 60_000);
});
