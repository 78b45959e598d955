/**
 * The vGPU's migrated state as plain, comparable data (the demo's device check and the
 * conformance suite compare source and target with it). Large blobs appear as sizes and
 * FNV digests; host-only values (DMA addresses, shadow frames, partition offsets) never do.
 */
import type { GvtgDriver } from "./gvtg-driver.js";
import { fnv1a } from "./hash.js";
import { ENGINE_REGS, IER, IIR, IMR, MASTER_IRQ } from "./registers.js";

/** A vGPU description. */
export interface GvtgDescription {
  readonly vgpuType: string;
  readonly profile: string;
  readonly tick: number;
  readonly guestDriverLoaded: boolean;
  readonly ggtt: { readonly entries: number; readonly present: number; readonly digest: string };
  readonly partialPtes: readonly (readonly [number, number])[];
  readonly fences: readonly string[];
  readonly ppgtt: readonly {
    readonly id: number;
    readonly rootType: number;
    readonly pdps: readonly number[];
  }[];
  readonly engines: readonly {
    readonly name: string;
    readonly lastSubmittedSeq: number;
    readonly queued: readonly number[];
    readonly csbPointer: number;
  }[];
  readonly interrupts: Readonly<Record<string, { iir: number; imr: number; ier: number }>>;
  readonly masterIrq: number;
  readonly vreg: { readonly dwords: number; readonly digest: string };
  readonly sreg: { readonly dwords: number; readonly digest: string };
  readonly config: string;
  readonly opregion: string;
}

function regDigest(entries: [number, number][]): string {
  const b = new Uint8Array(entries.length * 8);
  const v = new DataView(b.buffer);
  entries.forEach(([o, x], i) => {
    v.setUint32(8 * i, o, true);
    v.setUint32(8 * i + 4, x, true);
  });
  return fnv1a(b);
}

/** Describes `driver`'s vGPU. */
export function describeState(driver: GvtgDriver): GvtgDescription {
  const v = driver.vgpu;
  let present = 0;
  for (let i = 0; i < v.ggtt.entries; i++) if (v.ggtt.present(i)) present++;
  const vreg = v.vreg.entries();
  const sreg = v.sreg.entries();
  return {
    vgpuType: v.type.name,
    profile: driver.options.profile,
    tick: v.tick,
    guestDriverLoaded: v.guestDriverLoaded,
    ggtt: {
      entries: v.ggtt.entries,
      present,
      digest: fnv1a(new Uint8Array(v.ggtt.virtual.buffer)),
    },
    partialPtes: [...v.ggtt.partial.entries()].sort((a, b) => a[0] - b[0]),
    fences: Array.from(
      { length: v.type.fences },
      (_, i) =>
        `${v.vreg.get(0x100004 + 8 * i).toString(16)}:${v.vreg.get(0x100000 + 8 * i).toString(16)}`,
    ),
    ppgtt: v.ppgtt.mms.flatMap((mm, id) =>
      mm ? [{ id, rootType: mm.rootType, pdps: [...mm.pdps] }] : [],
    ),
    engines: v.type.engines.map((name, e) => ({
      name,
      lastSubmittedSeq: v.lastSubmittedSeq(e),
      queued: v.workloads(e).map((w) => w.seq),
      csbPointer: v.vreg.get(ENGINE_REGS[name].base + 0x3a0),
    })),
    interrupts: Object.fromEntries(
      v
        .interruptGroups()
        .map((g) => [
          `0x${g.toString(16)}`,
          { iir: v.vreg.get(g + IIR), imr: v.vreg.get(g + IMR), ier: v.vreg.get(g + IER) },
        ]),
    ),
    masterIrq: v.vreg.get(MASTER_IRQ),
    vreg: { dwords: vreg.length, digest: regDigest(vreg) },
    sreg: { dwords: sreg.length, digest: regDigest(sreg) },
    config: fnv1a(driver.configRead(0, 4096)),
    opregion: fnv1a(v.opregion),
  };
}
