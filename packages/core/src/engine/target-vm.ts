import type { MigrationDataStream } from "../contract/migration-data-stream.js";
import type { Errno } from "../errors/errno.js";
import { MdevError } from "../errors/mdev-error.js";
import { driveTransition } from "../fsm/drive-transition.js";
import { MigState } from "../fsm/mig-state.js";
import type { MdevHost } from "../host.js";
import { SimulatedVm } from "../vm/simulated-vm.js";
import type { VmConfig } from "../vm/vm-config.js";
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

/** A built VM and its admission, or why this host cannot receive it. */
export type BuildOutcome =
  | { readonly prepared: PreparedVm; readonly admission: Admission }
  | Refusal;

/**
 * Builds the incoming VM on `host` once `capacity` admitted it — the check before
 * anything is allocated (budget, preallocated size, one VM loading at a time) — on the
 * preallocated RAM and vCPU threads when there are some, then prepares it
 * ({@link prepareVm}). On failure the VM is destroyed, the admission given back, and the
 * outcome says why.
 */
export async function buildVm(
  config: VmConfig,
  host: MdevHost,
  capacity: TargetCapacity,
): Promise<BuildOutcome> {
  let admission: Admission;
  try {
    admission = capacity.admit(config);
  } catch (err) {
    return { refusal: message(err), code: codeOf(err) };
  }
  const memory = admission.memory;
  let vm: SimulatedVm;
  try {
    vm = await SimulatedVm.create(config, host, {
      role: "target",
      ...(memory ? { memory } : {}),
      ...(capacity.vcpuThreads ? { threads: capacity.vcpuThreads } : {}),
    });
  } catch (err) {
    admission.discard();
    return { refusal: `cannot build the VM here: ${message(err)}`, code: codeOf(err) };
  }
  try {
    return { prepared: { vm, streams: await prepareVm(vm, memory === undefined) }, admission };
  } catch (err) {
    await vm.destroy().catch(() => {});
    admission.discard();
    return {
      refusal: err instanceof ResumingRefused ? err.reason : message(err),
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
 */
export async function prepareVm(
  vm: SimulatedVm,
  prefault: boolean,
): Promise<Map<number, MigrationDataStream>> {
  if (prefault) vm.memory.prefault();
  const streams = new Map<number, MigrationDataStream>();
  for (const d of vm.devices) {
    let stream: MigrationDataStream | undefined;
    try {
      ({ stream } = await driveTransition(d.driver, MigState.RESUMING));
    } catch (err) {
      throw new ResumingRefused(`device could not start resuming: ${message(err)}`);
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

/** The error's message without MdevError's `CODE: ` prefix (the code travels apart). */
function message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return err instanceof MdevError ? text.replace(/^E[A-Z0-9]+: /, "") : text;
}
