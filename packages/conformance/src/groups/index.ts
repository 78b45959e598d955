import type { ConformanceGroup } from "../group.js";
import { badStreamsGroup } from "./bad-streams.js";
import { contractGroup } from "./contract.js";
import { determinismGroup } from "./determinism.js";
import { dirtyTrackingGroup } from "./dirty-tracking.js";
import { endToEndGroup } from "./end-to-end.js";
import { hostValuesGroup } from "./host-values.js";
import { quiescenceGroup } from "./quiescence.js";
import { roundTripGroup } from "./round-trip.js";
import { streamsGroup } from "./streams.js";

export {
  badStreamsGroup,
  contractGroup,
  determinismGroup,
  dirtyTrackingGroup,
  endToEndGroup,
  hostValuesGroup,
  quiescenceGroup,
  roundTripGroup,
  streamsGroup,
};

/** Every group, in the order the suite registers them. */
export const CONFORMANCE_GROUPS: readonly ConformanceGroup[] = [
  contractGroup,
  streamsGroup,
  roundTripGroup,
  badStreamsGroup,
  quiescenceGroup,
  dirtyTrackingGroup,
  determinismGroup,
  hostValuesGroup,
  endToEndGroup,
];
