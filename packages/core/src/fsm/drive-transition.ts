import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import type { VendorDriver } from "../contract/vendor-driver.js";
import { FsmError } from "../errors/fsm-error.js";
import type { MigState } from "./mig-state.js";
import { migStateName } from "./mig-state.js";
import { nextState } from "./next-state.js";

/** Outcome of {@link driveTransition}. */
export interface TransitionResult {
  /** The state reached (the requested target). */
  readonly state: MigState;
  /** Arcs taken, in order (empty when the device was already in the target state). */
  readonly path: readonly MigState[];
  /** The data stream opened by the final arc, if it opened one. */
  readonly stream: MigrationDataStream | undefined;
}

/**
 * Moves a device to `target` the way the kernel services VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
 * one direct arc at a time along {@link nextState}'s path; the driver commits its state
 * after each arc. The first failing arc stops the walk and its error propagates; the
 * device stays in the last committed state (or ERROR if the driver said it broke).
 *
 * Only the final arc may open a data stream. If an interior arc returns one, the stream
 * is abandoned and EINVAL is thrown with the device left in that interior state — the
 * kernel's WARN path in its drivers' step loops.
 */
export async function driveTransition(
  driver: VendorDriver,
  target: MigState,
): Promise<TransitionResult> {
  const path: MigState[] = [];
  let stream: MigrationDataStream | undefined;
  let cur = driver.getState();
  while (cur !== target) {
    const next = nextState(driver.migrationFlags, cur, target);
    stream = await driver.setState(next);
    path.push(next);
    cur = driver.getState();
    if (cur !== next) {
      throw new FsmError(
        "EIO",
        cur,
        next,
        `driver reported ${migStateName(cur)} after a successful arc to ${migStateName(next)}`,
      );
    }
    if (stream !== undefined && next !== target) {
      throw new FsmError(
        "EINVAL",
        next,
        target,
        `interior arc to ${migStateName(next)} returned a data stream on the way to ${migStateName(target)}`,
      );
    }
  }
  return { state: cur, path, stream };
}
