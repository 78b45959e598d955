import { driveTransition } from "../fsm/drive-transition.js";
import { MigState, migStateName } from "../fsm/mig-state.js";
import type { VmDevice } from "../vm/simulated-vm.js";

/**
 * Returns one device to RUNNING through the FSM (its DMA log stopped first, best effort);
 * when the FSM cannot, resets it, which loses its state, and returns the line that reports
 * that. Throws only when the reset fails too.
 */
export async function returnToRunning(d: VmDevice): Promise<string | undefined> {
  try {
    await d.driver.logStop().catch(() => {});
    await driveTransition(d.driver, MigState.RUNNING);
    return undefined;
  } catch (err) {
    const state = migStateName(d.driver.getState());
    await d.driver.reset();
    return `device ${d.config.slot} could not return to RUNNING from ${state} (${String(err)}); it was reset`;
  }
}
