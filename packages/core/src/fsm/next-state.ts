import { FsmError } from "../errors/fsm-error.js";
import { MigFlags } from "./mig-flags.js";
import { isMigState, MigState, migStateName } from "./mig-state.js";

const { ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;
const SC = MigFlags.STOP_COPY;
const P2P = MigFlags.P2P;
const PC = MigFlags.PRE_COPY;

/**
 * Flags a device must declare for each state to exist (kernel `state_flags_table`).
 * ERROR needs every bit, so it is never "supported" and can never be requested.
 */
export const FLAGS_NEEDED: readonly number[] = [
  /* ERROR        */ 0xffffffff,
  /* STOP         */ SC,
  /* RUNNING      */ SC,
  /* STOP_COPY    */ SC,
  /* RESUMING     */ SC,
  /* RUNNING_P2P  */ SC | P2P,
  /* PRE_COPY     */ SC | PC,
  /* PRE_COPY_P2P */ SC | P2P | PC,
];

/**
 * Next hop from `cur` (row) towards `target` (column), the kernel's
 * `vfio_from_fsm_table`; rows and columns are indexed by numeric state.
 */
export const NEXT_HOP: readonly (readonly MigState[])[] = [
  //            ERR    STOP         RUN          SC            RES        RP2P         PC            PCP2P
  /* ERROR */ [ERROR, ERROR, ERROR, ERROR, ERROR, ERROR, ERROR, ERROR],
  /* STOP  */ [
    ERROR,
    STOP,
    RUNNING_P2P,
    STOP_COPY,
    RESUMING,
    RUNNING_P2P,
    RUNNING_P2P,
    RUNNING_P2P,
  ],
  /* RUN   */ [
    ERROR,
    RUNNING_P2P,
    RUNNING,
    RUNNING_P2P,
    RUNNING_P2P,
    RUNNING_P2P,
    PRE_COPY,
    RUNNING_P2P,
  ],
  /* SC    */ [ERROR, STOP, STOP, STOP_COPY, STOP, STOP, ERROR, ERROR],
  /* RES   */ [ERROR, STOP, STOP, STOP, RESUMING, STOP, STOP, STOP],
  /* RP2P  */ [ERROR, STOP, RUNNING, STOP, STOP, RUNNING_P2P, RUNNING, PRE_COPY_P2P],
  /* PC    */ [ERROR, RUNNING, RUNNING, PRE_COPY_P2P, RUNNING, RUNNING, PRE_COPY, PRE_COPY_P2P],
  /* PCP2P */ [
    ERROR,
    RUNNING_P2P,
    RUNNING_P2P,
    STOP_COPY,
    RUNNING_P2P,
    RUNNING_P2P,
    PRE_COPY,
    PRE_COPY_P2P,
  ],
];

/** True when a device declaring `flags` has `state` (ERROR never counts as supported). */
export function isStateSupported(flags: number, state: number): boolean {
  if (!isMigState(state)) return false;
  const needed = FLAGS_NEEDED[state] as number;
  // `>>> 0` keeps ERROR's 0xffffffff unsigned after the bitwise AND.
  return (needed & flags) >>> 0 === needed;
}

/**
 * The next direct arc from `cur` towards `target` for a device declaring `flags`,
 * exactly as the kernel's `vfio_mig_get_next_state()`; returns `cur` when already there.
 *
 * Unsupported optional states are skipped by following the table from them, which is
 * how a device without P2P gets the direct RUNNING↔STOP arc. The walk stops at ERROR:
 * mainline lacks that guard and spins on STOP_COPY → PRE_COPY for PRE_COPY devices.
 *
 * @throws {@link FsmError} EINVAL when `cur` or `target` is out of range or unsupported,
 * or when no path exists (STOP_COPY → PRE_COPY / PRE_COPY_P2P).
 */
export function nextState(flags: number, cur: number, target: number): MigState {
  if (!isStateSupported(flags, cur)) {
    throw new FsmError(
      "EINVAL",
      cur,
      target,
      `current state ${migStateName(cur)} is not supported by this device (driver bug)`,
    );
  }
  if (!isStateSupported(flags, target)) {
    throw new FsmError(
      "EINVAL",
      cur,
      target,
      `target state ${migStateName(target)} is not supported by this device`,
    );
  }
  let next = (NEXT_HOP[cur] as readonly MigState[])[target] as MigState;
  while (next !== ERROR && !isStateSupported(flags, next)) {
    next = (NEXT_HOP[next] as readonly MigState[])[target] as MigState;
  }
  if (next === ERROR) {
    throw new FsmError(
      "EINVAL",
      cur,
      target,
      `no transition from ${migStateName(cur)} to ${migStateName(target)}`,
    );
  }
  return next;
}

/**
 * The whole arc sequence `nextState` walks from `cur` to `target` (empty when equal).
 * @throws {@link FsmError} as {@link nextState}.
 */
export function transitionPath(flags: number, cur: number, target: number): MigState[] {
  const path: MigState[] = [];
  let at: number = cur;
  while (at !== target) {
    const next = nextState(flags, at, target);
    path.push(next);
    at = next;
  }
  return path;
}
