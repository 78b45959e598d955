export { AbstractVendorDriver, type DriverDescription } from "./abstract-vendor-driver.js";
export {
  ARC_STEPS,
  type ArcHook,
  type ArcPlan,
  type ArcStep,
  arcPlan,
  renderArcTable,
  type SessionAction,
} from "./arc-steps.js";
export {
  applyConfigWrite,
  ConfigSpaceBuilder,
  type ConfigSpaceImage,
  PCI_CFG,
} from "./config-space-image.js";
export type {
  Clock,
  DeviceContext,
  DmaAccess,
  GuestMemoryInfo,
  InterruptLines,
  PagePinner,
} from "./device-context.js";
export { chooseDirtyTracking, offeredDirtyTracking } from "./dirty-tracking-choice.js";
export {
  DMA_LOG_MAX_RANGES,
  type DmaLogRange,
  IOVA_LIMIT,
  validateDmaLogRanges,
} from "./dma-log-range.js";
export type { MigrationDataStream, PrecopyInfo } from "./migration-data-stream.js";
export { vendorPluginSchema } from "./plugin-manifest-schema.js";
export { PluginRegistry } from "./plugin-registry.js";
export { ResumingStream } from "./resuming-stream.js";
export { SavingStream } from "./saving-stream.js";
export {
  DIRTY_TRACKING_METHODS,
  type DirtyTrackingMethod,
  type VendorDriver,
} from "./vendor-driver.js";
export type {
  CompatibilityVerdict,
  DeviceTypeInfo,
  SourceDeviceInfo,
  VendorPlugin,
} from "./vendor-plugin.js";
