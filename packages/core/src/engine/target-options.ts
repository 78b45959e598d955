import type { GuestMemory } from "../memory/guest-memory.js";
import type { SimulatedVm } from "../vm/simulated-vm.js";

/** Options of a {@link MigrationTarget}. */
export interface MigrationTargetOptions {
  /** How long to wait for GO after LOADED before giving up (the VM then never runs), ms. */
  readonly goTimeoutMs?: number;
  /**
   * Hash the whole of guest RAM (SHA-256) and report it — for tests and `--verify-ram`.
   * The guest is held after RESUMED until the hash is taken, so it starts later than the
   * source's measured downtime says.
   */
  readonly verifyRam?: boolean;
  /** Start the VM's vCPUs after the handover (default true). */
  readonly startVcpus?: boolean;
  /**
   * Prefaulted guest RAM prepared before the migration; used when the incoming VM's RAM
   * size matches, so no page of the transfer pays a first-touch fault.
   */
  readonly preallocated?: GuestMemory;
  /**
   * Called once the devices are RUNNING here and RESUMED was sent, before the vCPUs and
   * device activity start: the one moment the VM is exactly what arrived (tests compare
   * device state here).
   */
  readonly beforeRun?: (vm: SimulatedVm) => void | Promise<void>;
}

/** A VM that arrived and runs here. */
export interface TargetResult {
  readonly outcome: "resumed";
  /** The running VM. */
  readonly vm: SimulatedVm;
  /** Hex RAM digest from END, checked against what arrived. */
  readonly ramDigest: string;
  /** Hex SHA-256 of all of guest RAM before resume, when `verifyRam` was set. */
  readonly ramSha256?: string;
  /** Each device's state as its plugin describes it, taken before the guest ran here. */
  readonly devices: Readonly<Record<string, unknown>>;
  /** Time to load each device (RESUMING → STOP), ms by slot. */
  readonly deviceLoadMs: Readonly<Record<string, number>>;
  /** Bytes received on the forward stream. */
  readonly bytesReceived: number;
  /** From END received to resumed, ms. */
  readonly endToResumedMs: number;
}

/** Target options with their defaults applied. */
export interface ResolvedTargetOptions {
  readonly goTimeoutMs: number;
  readonly verifyRam: boolean;
  readonly startVcpus: boolean;
  readonly preallocated: GuestMemory | undefined;
  readonly beforeRun: MigrationTargetOptions["beforeRun"];
}

/** Applies the defaults (GO within 30 s, no RAM hash, vCPUs started). */
export function resolveTargetOptions(options: MigrationTargetOptions): ResolvedTargetOptions {
  return {
    goTimeoutMs: options.goTimeoutMs ?? 30_000,
    verifyRam: options.verifyRam ?? false,
    startVcpus: options.startVcpus ?? true,
    preallocated: options.preallocated,
    beforeRun: options.beforeRun,
  };
}
