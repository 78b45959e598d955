/**
 * `@mdevkit/plugin-accel`: a crypto/compression accelerator VF with queue pairs in guest
 * memory, modelled on HiSilicon ZIP/SEC (hisi_acc_vfio_pci) and Intel QAT gen4
 * (qat_vfio_pci).
 *
 * Reading order: profiles.ts (personalities and sizes), jobs.ts (what a job computes),
 * ring.ts, accel-device.ts (the device), guest-driver.ts (the guest inside the VM),
 * compat.ts and state-format.ts (the stream), accel-driver.ts (the hooks), plugin.ts.
 */
export {
  AccelDevice,
  type AccelDeviceConfig,
  type DeviceBus,
  type DoorbellCmd,
  type MailboxCommand,
  type QuiesceResult,
  WRITE_BACK_EVERY,
} from "./accel-device.js";
export {
  AccelDriver,
  type AccelHostConfig,
  hostPersonality,
  type StopReport,
} from "./accel-driver.js";
export {
  ACC_DEV_MAGIC_V1,
  ACC_DEV_MAGIC_V2,
  ACC_DRV_MAJOR,
  type AccelCompat,
  COMPAT_TAG,
  compatOf,
  decodeCompat,
  encodeCompat,
  incompatibility,
} from "./compat.js";
export { type AccelDescription, accelInvariants, describeAccel } from "./describe.js";
export {
  type AccelDeviceState,
  AEQ_VECTOR,
  EQ_VECTOR,
  eqcDwords,
  fixedBase,
  type QmRegs,
  QmState,
  type QpState,
  v1BuggyBase,
} from "./device-state.js";
export { AccelGuest, GUEST_MAGIC, type GuestBus, type GuestStats } from "./guest-driver.js";
export {
  computeOutput,
  DST_POISON,
  JobOp,
  JobStatus,
  MAX_SERVICE_TICKS,
  opOf,
  serviceTicks,
  sourcePattern,
} from "./jobs.js";
export { CQE_BYTES, layoutRegion, type RegionLayout } from "./layout.js";
export {
  ACCEL_MIGRATION_FLAGS,
  ACCEL_PLUGIN_VERSION,
  accelPlugin,
  accelPlugin as default,
  createAccelPlugin,
  profileOf,
} from "./plugin.js";
export {
  type AccelOptions,
  ALG,
  ENGINE_SLOTS,
  PERSONALITIES,
  type Personality,
  type PersonalityName,
  PROFILES,
  type Profile,
  parseAccelOptions,
} from "./profiles.js";
export {
  Ring,
  type RingState,
  restoreRequestRing,
  restoreResponseRing,
  statOf,
} from "./ring.js";
export {
  checkPrefix,
  decodeStream,
  encodeState,
  imageLength,
  rewriteStateVersion,
  STATE_TAG,
  STATE_VERSION,
} from "./state-format.js";
