import { ALL_MIG_STATES, MigState } from "./mig-state.js";
import { isStateSupported, nextState } from "./next-state.js";

const { STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;

/** What an arc does to the device's data session. */
export type ArcSessionEffect = "opens-saving" | "opens-resuming" | "continues" | "ends" | "none";

/** States in which a data session (saving or resuming) is open. */
export function hasDataSession(state: number): boolean {
  return state === STOP_COPY || state === RESUMING || state === PRE_COPY || state === PRE_COPY_P2P;
}

/** States whose session is a saving one (the device produces bytes). */
export function isSavingState(state: number): boolean {
  return state === STOP_COPY || state === PRE_COPY || state === PRE_COPY_P2P;
}

/**
 * The data-session effect of the direct arc `from → to` (uAPI arc table): the arcs into
 * STOP_COPY from STOP, into PRE_COPY(_P2P) from RUNNING(_P2P) and into RESUMING open a
 * stream; PRE_COPY → STOP_COPY and PRE_COPY ↔ PRE_COPY_P2P keep the same stream.
 */
export function arcSessionEffect(from: number, to: number): ArcSessionEffect {
  if (to === RESUMING && from === STOP) return "opens-resuming";
  if (to === STOP_COPY && from === STOP) return "opens-saving";
  if ((to === PRE_COPY && from === RUNNING) || (to === PRE_COPY_P2P && from === RUNNING_P2P)) {
    return "opens-saving";
  }
  if (isSavingState(from) && isSavingState(to)) return "continues";
  if (hasDataSession(from) && !hasDataSession(to)) return "ends";
  return "none";
}

/**
 * True when `from → to` is a direct arc a device declaring `flags` must implement: both
 * states supported and the kernel's walk takes it in a single step.
 */
export function isDirectArc(flags: number, from: number, to: number): boolean {
  if (from === to || !isStateSupported(flags, from) || !isStateSupported(flags, to)) return false;
  try {
    return nextState(flags, from, to) === to;
  } catch {
    return false;
  }
}

/** Every direct arc for `flags`, as `[from, to]` pairs in numeric order. */
export function directArcs(flags: number): [MigState, MigState][] {
  const arcs: [MigState, MigState][] = [];
  for (const from of ALL_MIG_STATES) {
    for (const to of ALL_MIG_STATES) if (isDirectArc(flags, from, to)) arcs.push([from, to]);
  }
  return arcs;
}
