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
export { DirtySync } from "./dirty-sync.js";
export {
  type MigrationOptions,
  type MigrationOptionsInput,
  migrationOptionsSchema,
  parseMigrationOptions,
} from "./migration-options.js";
export type {
  DowntimeBreakdown,
  IterationStats,
  MigrationResult,
  ThroughputSample,
} from "./migration-stats.js";
export { PageDigestTable } from "./page-digest-table.js";
