/**
 * `@mdevkit/plugin-gvt-g`: an Intel GVT-g mediated vGPU — the device the project's seed
 * design was proven on — with the state, stop policy and dirty reporting of its 2017
 * migration prototype.
 *
 * Reading order: vgpu-types.ts, vgpu.ts (the model), guest-driver.ts (the simulated
 * guest), ggtt.ts / ppgtt.ts / host-space.ts (shadows and host-only state),
 * migration-format.ts (the stream), gvtg-driver.ts (the hooks), plugin.ts (the manifest).
 */
export { checkCompatible } from "./compatibility.js";
export {
  buildConfigSpace,
  CFG_BYTES,
  Cfg,
  INTEL_VENDOR_ID,
  msiEnabled,
} from "./config-space.js";
export { describeState, type GvtgDescription } from "./describe.js";
export { Ggtt, gfnOfPte, pteOf } from "./ggtt.js";
export { bootGuest, mmOfContext, pdpsOf, ptPageGfn, stepVgpu } from "./guest-driver.js";
export { CTX_SLOTS, type GuestLayout, guestLayout, LEAVES_PER_MM } from "./guest-layout.js";
export { GVTG_MIGRATION_FLAGS, GVTG_MSI_VECTOR, GvtgDriver, maxStateBytes } from "./gvtg-driver.js";
export { HostSpace } from "./host-space.js";
export {
  type CompatInfo,
  compatOf,
  compatProblem,
  type DecodedPrefix,
  type DecodedStream,
  decodeCompat,
  decodeStream,
  encodeCompat,
  encodeGgtt,
  encodeGgttDelta,
  encodeStopCopy,
  MIN_STREAM_VERSION,
  precopyGgtt,
  STREAM_VERSION,
  splitDocs,
  withStreamVersion,
} from "./migration-format.js";
export { type GvtgOptions, gvtgOptionsSchema, parseGvtgOptions } from "./options.js";
export { GVTG_PLUGIN_VERSION, gvtgPlugin, gvtgPlugin as default } from "./plugin.js";
export { Ppgtt } from "./ppgtt.js";
export { type Completion, Vgpu, type VgpuPorts } from "./vgpu.js";
export type { VgpuImage } from "./vgpu-image.js";
export {
  ENGINES,
  findVgpuType,
  ggttEntries,
  VGPU_TYPES,
  type VgpuType,
  vgpuTypeOf,
} from "./vgpu-types.js";
