/**
 * `@mdevkit/conformance`: the suite every mdevkit vendor plugin runs. One call registers
 * it with vitest ({@link describeVendorDriverConformance}); every check is also a plain
 * async function ({@link runConformanceGroup}), which is how the suite tests itself
 * against deliberately broken plugins.
 * @module
 */
export * as arbitraries from "./arbitraries.js";
export { concatBytes, findLittleEndian } from "./bytes.js";
export { CheckContext, expectMdevError, expectSuccess, Role } from "./context.js";
export { type DirtyReader, dirtyReaderFor } from "./dirty-reader.js";
export { type FakeContextOptions, FakeDma, fakeDeviceContext } from "./fakes.js";
export type { ConformanceCheck, ConformanceGroup } from "./group.js";
export {
  badStreamsGroup,
  CONFORMANCE_GROUPS,
  contractGroup,
  determinismGroup,
  dirtyTrackingGroup,
  endToEndGroup,
  hostValuesGroup,
  quiescenceGroup,
  roundTripGroup,
  streamsGroup,
} from "./groups/index.js";
export {
  createDeviceHarness,
  type DeviceHarness,
  drainStream,
  type HarnessOptions,
  loadDevice,
  reach,
  type SavedDevice,
  type SaveOptions,
  saveDevice,
  VirtualClock,
  writeChunks,
} from "./harness.js";
export {
  type ConformanceOptions,
  fcRunsFromEnv,
  type GroupId,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
export { createRng, deriveSeed, type Rng } from "./rng.js";
export {
  type CheckOutcome,
  conformanceGroup,
  runConformanceCheck,
  runConformanceGroup,
  skipReason,
} from "./runner.js";
export { stripPaths } from "./state-compare.js";
export { describeVendorDriverConformance, type SuiteApi } from "./suite.js";
export { type TraceEvent, TraceRecorder } from "./trace.js";
export {
  ConformanceConfigError,
  ConformanceViolation,
  ContractBreach,
  ensure,
} from "./violation.js";
