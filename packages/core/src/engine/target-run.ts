import type { Clock } from "../contract/device-context.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigState } from "../fsm/mig-state.js";
import { ramSha256 } from "./ram-sha256.js";
import { settleEach } from "./settle-each.js";
import type { ResolvedTargetOptions, TargetResult } from "./target-options.js";
import type { LoadedVm } from "./target-receiving.js";

/** What running a loaded VM needs from the target that received it. */
export interface RunContext {
  readonly options: ResolvedTargetOptions;
  readonly clock: Clock;
  /** Called once every device is RUNNING, before the guest starts (the duplex target sends RESUMED). */
  readonly resumed: () => Promise<void>;
  /** Bytes received on the forward stream. */
  readonly bytesReceived: () => number;
}

/**
 * The last step of both a migration (after GO) and a restore (after END): devices to
 * RUNNING, then — with the guest still held — the optional RAM hash, the device
 * descriptions and `beforeRun`, then the vCPUs (or only device activity) start.
 */
export async function runLoadedVm(loaded: LoadedVm, ctx: RunContext): Promise<TargetResult> {
  const { vm } = loaded;
  // Side by side, like the loads: the guest waits for the slowest start, not for their sum.
  await settleEach(vm.devices.map((d) => driveTransition(d.driver, MigState.RUNNING)));
  await ctx.resumed();
  // Verification holds the guest (vCPUs and device activity) after RESUMED until RAM and
  // device state are recorded, so the check sees exactly what arrived; it is a test mode,
  // and the source's measured downtime does not include the hashing.
  const sha = ctx.options.verifyRam ? ramSha256(vm.memory) : undefined;
  const devices = vm.describeDevices();
  await ctx.options.beforeRun?.(vm);
  if (ctx.options.startVcpus) await vm.start();
  else vm.startDeviceActivity();
  return {
    outcome: "resumed",
    vm,
    ramDigest: loaded.ramDigest,
    ...(sha === undefined ? {} : { ramSha256: sha }),
    deviceLoadMs: Object.fromEntries(
      loaded.loadTimes.map((t) => [
        vm.devices[t.slot]?.config.slot ?? String(t.slot),
        t.loadUs / 1000,
      ]),
    ),
    devices,
    bytesReceived: ctx.bytesReceived(),
    endToResumedMs: Number(ctx.clock.nowNs() - loaded.endAt) / 1e6,
  };
}
