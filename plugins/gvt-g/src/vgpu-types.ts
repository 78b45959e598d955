/**
 * vGPU types as GVT-g defines them (`vgpu_types[]` in i915/gvt/vgpu.c): the low
 * (aperture) and high (hidden) graphics memory of the vGPU's partition, the fence count
 * and the scheduler weight; plus GVTg_TEST, a scaled-down type for fast tests.
 */
import { MdevError } from "@mdevkit/core";

/** Render/copy/video engines of a Gen9 GPU, in GVT-g's ring order. */
export const ENGINES = ["rcs0", "bcs0", "vcs0", "vcs1", "vecs0"] as const;
/** One engine name. */
export type EngineName = (typeof ENGINES)[number];

/** One vGPU type and the sizes the model derives from it. */
export interface VgpuType {
  /** mdev type name, e.g. `GVTg_V5_4`. */
  readonly name: string;
  /** One line for humans. */
  readonly description: string;
  /** Aperture (CPU-mappable) graphics memory of the partition, bytes. */
  readonly lowGmBytes: number;
  /** Hidden (GPU-only) graphics memory of the partition, bytes. */
  readonly highGmBytes: number;
  /** Fence registers given to the vGPU. */
  readonly fences: number;
  /** Scheduler weight. */
  readonly weight: number;
  /** Engines the vGPU exposes. */
  readonly engines: readonly EngineName[];
  /** Most PPGTT address spaces (guest contexts with their own page tables). */
  readonly maxPpgttMms: number;
  /** Framebuffer pages in the default profile (a 1 MiB render target). */
  readonly framebufferPages: number;
  /** Framebuffer pages in the heavy profile (a 1920×1200 32-bit desktop). */
  readonly heavyFramebufferPages: number;
  /** GGTT entries of the aperture the guest maps to its texture/buffer pool. */
  readonly poolEntries: number;
  /** Guest pages the pool entries are drawn from (GGTT churn remaps within them). */
  readonly poolPages: number;
  /** PPGTT leaf pages the guest's page tables point at. */
  readonly leafPoolPages: number;
}

const MiB = 2 ** 20;
const GEN9_ENGINES = ENGINES;

function realType(name: string, lowMiB: number, highMiB: number, weight: number): VgpuType {
  return {
    name,
    description: `Intel GVT-g vGPU: ${lowMiB} MiB aperture + ${highMiB} MiB hidden graphics memory, 4 fences, weight ${weight}`,
    lowGmBytes: lowMiB * MiB,
    highGmBytes: highMiB * MiB,
    fences: 4,
    weight,
    engines: GEN9_ENGINES,
    maxPpgttMms: 64,
    framebufferPages: 256,
    heavyFramebufferPages: 2304,
    poolEntries: 8192,
    poolPages: 16384,
    leafPoolPages: 1024,
  };
}

/** Every type this plugin offers; GVTg_TEST is the small profile of the unit tests. */
export const VGPU_TYPES: readonly VgpuType[] = [
  realType("GVTg_V5_1", 512, 2048, 16),
  realType("GVTg_V5_2", 256, 1024, 8),
  realType("GVTg_V5_4", 128, 512, 4),
  realType("GVTg_V5_8", 64, 384, 2),
  {
    name: "GVTg_TEST",
    description:
      "Scaled-down GVT-g vGPU for tests: 128 + 512 GGTT entries, 4 fences, rcs0 and bcs0",
    lowGmBytes: 128 * 4096,
    highGmBytes: 512 * 4096,
    fences: 4,
    weight: 1,
    engines: ["rcs0", "bcs0"],
    maxPpgttMms: 4,
    framebufferPages: 32,
    heavyFramebufferPages: 96,
    poolEntries: 16,
    poolPages: 64,
    leafPoolPages: 16,
  },
];

/** GGTT entries of a type's partition: one 8-byte PTE per 4 KiB of graphics memory. */
export function ggttEntries(t: VgpuType): number {
  return (t.lowGmBytes + t.highGmBytes) / 4096;
}

/** Aperture GGTT entries (the low part of the partition). */
export function lowEntries(t: VgpuType): number {
  return t.lowGmBytes / 4096;
}

/** The type called `name`, or undefined. */
export function findVgpuType(name: string): VgpuType | undefined {
  return VGPU_TYPES.find((t) => t.name === name);
}

/**
 * The type called `name`.
 * @throws MdevError ENODEV for a type this plugin does not offer.
 */
export function vgpuTypeOf(name: string): VgpuType {
  const t = findVgpuType(name);
  if (t === undefined) {
    const known = VGPU_TYPES.map((x) => x.name).join(", ");
    throw new MdevError("ENODEV", `gvt-g has no vGPU type "${name}" (offers ${known})`);
  }
  return t;
}
