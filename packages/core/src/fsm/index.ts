export {
  type ArcSessionEffect,
  arcSessionEffect,
  directArcs,
  hasDataSession,
  isDirectArc,
  isSavingState,
} from "./arcs.js";
export { driveTransition, type TransitionResult } from "./drive-transition.js";
export {
  isLegalFlagSet,
  LEGAL_FLAG_SETS,
  type MigFlagSet,
  MigFlags,
  migFlagsName,
} from "./mig-flags.js";
export {
  ALL_MIG_STATES,
  isMigState,
  MIG_STATE_COUNT,
  MigState,
  migStateName,
} from "./mig-state.js";
export {
  FLAGS_NEEDED,
  isStateSupported,
  NEXT_HOP,
  nextState,
  transitionPath,
} from "./next-state.js";
