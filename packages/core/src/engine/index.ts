export {
  type ConvergenceDecision,
  type ConvergenceInput,
  ConvergencePolicy,
  formatBytes,
  formatRate,
} from "./convergence-policy.js";
export {
  allSupportP2P,
  returnDevicesToRunning,
  stopDevicesForSwitchover,
} from "./device-handover.js";
export { DeviceStateAllowance } from "./device-state-allowance.js";
export { DirtySync, mappedRanges, mergeRanges } from "./dirty-sync.js";
export { DEFAULT_HANDSHAKE_BUDGET_BYTES, HandshakeBudget } from "./handshake-budget.js";
export type { DeviceRecovery } from "./late-recovery.js";
export { MigrationError, type MigrationPhase } from "./migration-error.js";
export {
  type MigrationEvent,
  type MigrationEventSink,
  type MigrationProgress,
  NullEventSink,
  type TargetStateName,
} from "./migration-events.js";
export {
  DEFAULT_SWITCHOVER_TIMEOUT_MS,
  type MigrationOptions,
  type MigrationOptionsInput,
  migrationOptionsSchema,
  parseMigrationOptions,
} from "./migration-options.js";
export { MigrationSource, type MigrationSourceEvents } from "./migration-source.js";
export type {
  DowntimeBreakdown,
  IterationStats,
  MigrationResult,
  ThroughputSample,
} from "./migration-stats.js";
export {
  MigrationTarget,
  type MigrationTargetEvents,
  type MigrationTargetOptions,
  type TargetResult,
} from "./migration-target.js";
export { MigrationTimeline, type TimelineMark } from "./migration-timeline.js";
export { OneWayRestore } from "./one-way-restore.js";
export { PageDigestTable } from "./page-digest-table.js";
export { PINNED_PAGE_CACHE_MAX_BYTES, PinnedPageCache } from "./pinned-page-cache.js";
export { ramSha256 } from "./ram-sha256.js";
export { type SaveOptions, type SaveResult, saveVm } from "./save-vm.js";
export { TargetAnswers } from "./target-answers.js";
export {
  type Admission,
  DEFAULT_MAX_DEVICE_STATE_MIB,
  defaultMaxMemoryMiB,
  defaultMaxVcpus,
  TargetCapacity,
  type TargetCapacityOptions,
} from "./target-capacity.js";
export { checkHandshake, type HandshakeVerdict } from "./target-handshake.js";
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECEIVE_IDLE_TIMEOUT_MS,
  RECEIVE_PROGRESS_BYTES,
} from "./target-options.js";
export {
  busyDevicesReason,
  deviceCallsSettled,
  devicesStillBusy,
  refuseWhileDevicesBusy,
} from "./unfinished-device-calls.js";
