import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import type { Errno } from "../errors/errno.js";
import { detailOf, MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigState } from "../fsm/mig-state.js";
import type { MdevHost } from "../host.js";
import { prefaultInSlices } from "../memory/guest-ram-work.js";
import { SimulatedVm } from "../vm/simulated-vm.js";
import type { VmConfig } from "../vm/vm-config.js";
import { DeviceStateAllowance } from "./device-state-allowance.js";
import type { Admission, TargetCapacity } from "./target-capacity.js";

/** A target VM, built and ready to receive: RAM backed, every device RESUMING. */
export interface PreparedVm {
  readonly vm: SimulatedVm;
  /** Each device's resuming stream, by device index. */
  readonly streams: ReadonlyMap<number, MigrationDataStream>;
}

/** Why this host will not receive a VM: the REJECT reason, and the errno-style code. */
export interface Refusal {
  readonly refusal: string;
  readonly code: Errno;
}

/** The error of a VM this host refused: one wording for the listener and for a restore. */
export function refusedVm(refusal: Refusal): MdevError {
  return new MdevError(refusal.code, `refused the VM: ${refusal.refusal}`);
}

/** A built VM and its admission, or why this host cannot receive it. */
export type BuildOutcome =
  | { readonly prepared: PreparedVm; readonly admission: Admission }
  | Refusal;

/**
 * Whether the peer a VM is built for left (the session's channel can tell without reading):
 * asked between slices of the work, which then stops.
 */
export type PeerGone = () => boolean;

/**
 * Builds the incoming VM on `host` once `capacity` admitted it — the check before
 * anything is allocated (budget, preallocated size, one VM loading at a time) — on the
 * preallocated RAM and vCPU threads when there are some, then prepares it
 * ({@link prepareVm}); its devices' streams share the capacity's device-state allowance
 * ({@link DeviceStateAllowance}). On failure, or once `peerGone` says the peer left, the
 * VM is destroyed, the admission given back (its RAM freed), and the outcome says why.
 */
export async function buildVm(
  config: VmConfig,
  host: MdevHost,
  capacity: TargetCapacity,
  peerGone: PeerGone = () => false,
): Promise<BuildOutcome> {
  let admission: Admission;
  try {
    admission = capacity.admit(config);
  } catch (err) {
    return { refusal: detailOf(err), code: codeOf(err) };
  }
  const memory = admission.memory;
  let vm: SimulatedVm;
  try {
    await admission.ready;
    vm = await SimulatedVm.create(config, host, {
      role: "target",
      ...(memory ? { memory } : {}),
      ...(capacity.vcpuThreads ? { threads: capacity.vcpuThreads } : {}),
    });
  } catch (err) {
    await admission.discard();
    return { refusal: `cannot build the VM here: ${detailOf(err)}`, code: codeOf(err) };
  }
  try {
    const streams = await prepareVm(vm, memory === undefined, peerGone);
    const allowance = new DeviceStateAllowance(capacity.maxDeviceStateMiB * 2 ** 20);
    for (const [index, stream] of streams) streams.set(index, allowance.bound(stream));
    return { prepared: { vm, streams }, admission };
  } catch (err) {
    await vm.destroy().catch(() => {});
    await admission.discard(vm.memory);
    return {
      refusal: err instanceof ResumingRefused ? err.reason : detailOf(err),
      code: codeOf(err),
    };
  }
}

/** A device that cannot enter RESUMING: the VM is refused with `reason`. */
class ResumingRefused extends MdevError {
  constructor(readonly reason: string) {
    super("EIO", reason);
  }
}

/**
 * Backs guest RAM (unless it came prefaulted) and moves every device to RESUMING. First
 * touch costs several times a copy here, and paid while pages stream in it halves the
 * transfer rate (measured: 2 GiB took 11 s that way, and 17 s with a prefault thread
 * racing the receiver for page faults); the source keeps running meanwhile.
 *
 * The prefault takes seconds for a large guest: it runs in slices between which the
 * process serves its other connections, and stops within a slice when a device refuses
 * or `peerGone` says the peer left (ECONNRESET then).
 */
export async function prepareVm(
  vm: SimulatedVm,
  prefault: boolean,
  peerGone: PeerGone = () => false,
): Promise<Map<number, MigrationDataStream>> {
  let refused = false;
  const prefaulting = prefault
    ? prefaultInSlices(vm.memory, {
        stop: () => {
          if (refused) return new MdevError("ECANCELED", "a device refused the VM");
          if (peerGone())
            return new MdevError("ECONNRESET", "the source left while its VM's RAM was prefaulted");
          return undefined;
        },
      })
    : Promise.resolve();
  // Stopped early, it rejects while the devices may still be awaited: handled here, then.
  prefaulting.catch(() => {});
  // The devices enter RESUMING while RAM is prefaulted: one refusing stops the prefault.
  try {
    const streams = await resumeDevices(vm);
    await prefaulting;
    return streams;
  } catch (err) {
    refused = true;
    await prefaulting.catch(() => {});
    throw err;
  }
}

async function resumeDevices(vm: SimulatedVm): Promise<Map<number, MigrationDataStream>> {
  const streams = new Map<number, MigrationDataStream>();
  for (const d of vm.devices) {
    let stream: MigrationDataStream | undefined;
    try {
      ({ stream } = await driveTransition(d.driver, MigState.RESUMING));
    } catch (err) {
      throw new ResumingRefused(`device could not start resuming: ${detailOf(err)}`);
    }
    if (stream === undefined)
      throw new ResumingRefused(`device ${d.config.slot} opened no resuming stream`);
    streams.set(d.index, stream);
  }
  return streams;
}

function codeOf(err: unknown): Errno {
  return err instanceof MdevError ? err.code : "EIO";
}
