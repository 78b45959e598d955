import { MdevError } from "../errors/mdev-error.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import type { SimulatedVm } from "../vm/simulated-vm.js";
import { HandshakeBudget } from "./handshake-budget.js";
import { TargetCapacity } from "./target-capacity.js";

/** Default time a peer has to deliver its HANDSHAKE, ms. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Default longest time a source may go without progress while its VM's state arrives, ms. */
export const DEFAULT_RECEIVE_IDLE_TIMEOUT_MS = 60_000;

/**
 * What counts as progress for the receive-idle deadline: this many more bytes of the stream
 * (1 MiB). Not any byte — one byte a minute would hold the target's loading slot forever —
 * and not a whole record, which can be 8 MiB, or can be a few bytes a peer sends a minute
 * apart. A source must thus deliver 1 MiB per idle timeout: 17.5 KB/s (140 kbit/s) with the
 * default 60 s, whatever its records' sizes. A capped mdevkit source sends its RAM in
 * batches of 1 MiB or more (one record of up to 4 MiB), each after a silence of its size
 * over the rate, which must fit in the idle timeout anyway; this rule asks no more of it.
 */
export const RECEIVE_PROGRESS_BYTES = 1024 * 1024;

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
   * Prefaulted guest RAM prepared before the migration, so no page of the transfer pays a
   * first-touch fault; the target then takes only a VM of exactly this size.
   */
  readonly preallocated?: GuestMemory;
  /**
   * The memory budget, MiB: a VM with more guest RAM is refused (ENOMEM) before anything
   * is allocated. Default: the preallocated size, else half of this machine's RAM.
   */
  readonly maxMemoryMiB?: number;
  /** Most vCPUs an incoming VM may have (EINVAL beyond); default four per host CPU, at least 8. */
  readonly maxVcpus?: number;
  /**
   * Most device state an incoming VM's devices may send, MiB, all devices together (ENOMEM
   * beyond); default 256 MiB (see {@link TargetCapacity.maxDeviceStateMiB}).
   */
  readonly maxDeviceStateMiB?: number;
  /**
   * What this target hosts, shared between the targets of one listener (budget,
   * preallocated RAM, one VM loading at a time). When given, `maxMemoryMiB`, `maxVcpus`,
   * `maxDeviceStateMiB` and `preallocated` must not be: they are the capacity's.
   */
  readonly capacity?: TargetCapacity;
  /**
   * The bytes that HANDSHAKEs still arriving may hold, shared between the targets of one
   * listener (see {@link HandshakeBudget}); default: one of this target's own, so a single
   * connection is bounded by the stream limits alone.
   */
  readonly handshakeBudget?: HandshakeBudget;
  /**
   * How long a peer has, from the start of {@link MigrationTarget.receive}, to deliver the
   * stream header and HANDSHAKE before it is dropped (ETIMEDOUT), ms; default 10 s. A file
   * has no deadline.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * How long the source may go without progress while its VM's state arrives (from ACCEPT
   * to END), ms; default 60 s. Progress is {@link RECEIVE_PROGRESS_BYTES} (1 MiB) more of
   * the stream: the deadline restarts each time that much more arrived, so a source that
   * trickles bytes cannot hold the target, and one that is merely slow needs 1 MiB per
   * timeout. Past it the peer counts as stalled: the VM being received is dropped and its
   * RAM and loading slot given back (ETIMEDOUT). Loading and the wait for GO have their own
   * deadlines.
   */
  readonly receiveIdleTimeoutMs?: number;
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
  readonly capacity: TargetCapacity;
  readonly handshakeBudget: HandshakeBudget;
  readonly handshakeTimeoutMs: number;
  readonly receiveIdleTimeoutMs: number;
  readonly beforeRun: MigrationTargetOptions["beforeRun"];
}

/**
 * Applies the defaults (GO within 30 s, HANDSHAKE within 10 s, no silence over 60 s
 * while receiving, no RAM hash, vCPUs
 * started, a capacity of its own when none is shared); EINVAL for contradictions.
 */
export function resolveTargetOptions(options: MigrationTargetOptions): ResolvedTargetOptions {
  if (
    options.capacity !== undefined &&
    (options.maxMemoryMiB !== undefined ||
      options.maxVcpus !== undefined ||
      options.maxDeviceStateMiB !== undefined ||
      options.preallocated !== undefined)
  ) {
    throw new MdevError(
      "EINVAL",
      "a shared capacity carries the memory budget and preallocated RAM; pass them to it",
    );
  }
  const handshakeTimeoutMs = positiveMs(
    "handshake timeout",
    options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
  );
  const receiveIdleTimeoutMs = positiveMs(
    "receive idle timeout",
    options.receiveIdleTimeoutMs ?? DEFAULT_RECEIVE_IDLE_TIMEOUT_MS,
  );
  return {
    goTimeoutMs: options.goTimeoutMs ?? 30_000,
    verifyRam: options.verifyRam ?? false,
    startVcpus: options.startVcpus ?? true,
    capacity:
      options.capacity ??
      new TargetCapacity({
        ...(options.maxMemoryMiB === undefined ? {} : { maxMemoryMiB: options.maxMemoryMiB }),
        ...(options.maxVcpus === undefined ? {} : { maxVcpus: options.maxVcpus }),
        ...(options.maxDeviceStateMiB === undefined
          ? {}
          : { maxDeviceStateMiB: options.maxDeviceStateMiB }),
        ...(options.preallocated === undefined ? {} : { preallocated: options.preallocated }),
      }),
    handshakeBudget: options.handshakeBudget ?? new HandshakeBudget(),
    handshakeTimeoutMs,
    receiveIdleTimeoutMs,
    beforeRun: options.beforeRun,
  };
}

function positiveMs(what: string, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new MdevError("EINVAL", `${what} ${ms} ms is not positive`);
  return ms;
}
