import { availableParallelism, totalmem } from "node:os";
import { MdevError } from "../errors/mdev-error.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import { releaseInSlices, zeroInSlices } from "../memory/guest-ram-work.js";
import type { VcpuThreads } from "../vm/vcpu-threads.js";
import { MAX_VM_MEMORY_MIB, type VmConfig } from "../vm/vm-config.js";

const MIB = 2 ** 20;

/**
 * The default memory budget: half of this machine's RAM (at most what a VM config may
 * ask for). Half, because the rest is the host's own — the OS, this process's heap, and
 * on a loopback migration the source's copy of the same VM.
 */
export function defaultMaxMemoryMiB(): number {
  return Math.max(1, Math.min(MAX_VM_MEMORY_MIB, Math.floor(totalmem() / 2 / MIB)));
}

/**
 * The default most vCPUs of an incoming VM: four per host CPU, at least 8. Each vCPU is a
 * worker thread (several MiB each); without a bound, a HANDSHAKE asking for 64 of them
 * costs the target hundreds of MiB outside the memory budget.
 */
export function defaultMaxVcpus(): number {
  return Math.max(8, 4 * availableParallelism());
}

/**
 * The default most device state one incoming VM's devices may send: 256 MiB. The seed's
 * vGPU under its heavy profile sends about 1.3 MiB; a driver's own bound is far larger
 * (a GVTg_V5_1's is about 87 MiB, mostly room for GGTT deltas), and 32 of them would be
 * gigabytes the memory budget does not count.
 */
export const DEFAULT_MAX_DEVICE_STATE_MIB = 256;

/** Options of a {@link TargetCapacity}. */
export interface TargetCapacityOptions {
  /**
   * The memory budget: most guest RAM (MiB) this target hosts at once — the VM it loads
   * plus the VMs it already runs. Default: the preallocated RAM's size when given, else
   * {@link defaultMaxMemoryMiB}.
   */
  readonly maxMemoryMiB?: number;
  /**
   * RAM prefaulted ahead for the next VM, like QEMU's `-incoming -mem-prealloc`: the
   * target is then sized for a VM of exactly this size, and refuses any other.
   */
  readonly preallocated?: GuestMemory;
  /**
   * vCPU threads started ahead for the next VM, as a QEMU target has its vCPU threads
   * before `-incoming`: the VM takes them when it is built, so no thread starts up while its
   * RAM streams in. A VM with more vCPUs starts the rest itself.
   */
  readonly vcpuThreads?: VcpuThreads;
  /** Most vCPUs an incoming VM may have (EINVAL beyond); default {@link defaultMaxVcpus}. */
  readonly maxVcpus?: number;
  /**
   * Most device state (MiB) an incoming VM's devices may take in, all devices together:
   * the loading fails with ENOMEM beyond. It is outside the memory budget, which counts
   * guest RAM. Default {@link DEFAULT_MAX_DEVICE_STATE_MIB}.
   */
  readonly maxDeviceStateMiB?: number;
  /**
   * Called after a refused or failed VM's memory was dropped (not kept for reuse): where
   * a caller can make the runtime collect its buffers now rather than at its next GC —
   * where core's addon cannot give the RAM back at once, only that returns it to the OS.
   */
  readonly reclaim?: () => void;
}

/** One VM admitted to load here: the RAM to build it on, if prepared, and its release. */
export interface Admission {
  /** The preallocated RAM this VM gets (cleared once settled). */
  readonly memory: GuestMemory | undefined;
  /**
   * Settles once {@link memory} is ready for the VM: prefaulted, and zeroed after the VM
   * that had it last failed. Build nothing on it before. Resolved at once without it.
   */
  readonly ready: Promise<void>;
  /**
   * The VM runs on `memory`: the loading slot is free again, and its RAM stays counted
   * against the budget until {@link TargetCapacity.release}.
   */
  running(memory: GuestMemory): void;
  /**
   * The VM was dropped: the loading slot is free again at once, preallocated RAM waits
   * (zeroed) for the next VM, and `memory` — the RAM the VM was built on, when it was
   * built — is given back. The VM's share of the budget is free once its RAM is: when
   * this settles where core's addon gives the RAM back to the OS at once, else once the
   * runtime collected it. Idempotent, and no-op after running.
   */
  discard(memory?: GuestMemory): Promise<void>;
}

/**
 * What a target host agrees to receive — the one place the socket target and the
 * one-way restore ask before anything is allocated. It holds the memory budget (an
 * incoming VM's RAM is the target's decision, as QEMU sizes incoming RAM from its own
 * `-m`), the vCPU limit, the preallocated RAM if any, and a single loading slot: one VM
 * is received at a time, a second is refused with EBUSY rather than queued. Share one
 * between every {@link MigrationTarget} of a listener.
 */
export class TargetCapacity {
  /** The budget, MiB. */
  readonly maxMemoryMiB: number;
  /** Most vCPUs of one incoming VM. */
  readonly maxVcpus: number;
  /** Most device state one incoming VM's devices may take in, MiB. */
  readonly maxDeviceStateMiB: number;
  /** The vCPU threads started ahead for incoming VMs, if any. */
  readonly vcpuThreads: VcpuThreads | undefined;
  readonly #reclaim: (() => void) | undefined;
  #preallocated: GuestMemory | undefined;
  /** The preallocated RAM's prefault or zeroing, while it runs. */
  #preparing: Promise<void> | undefined;
  /** MiB of the VM loading now, of the VMs admitted that run, and of RAM not yet freed. */
  #hostedMiB = 0;
  #loading = false;
  /** MiB of each admitted VM that runs, by its RAM. */
  readonly #running = new Map<GuestMemory, number>();
  /** Dropped RAM the runtime has yet to collect (where the addon could not free it). */
  readonly #uncollected = new FinalizationRegistry<Uncollected>((held) => {
    held.buffers -= 1;
    if (held.buffers === 0) this.#hostedMiB -= held.mib;
  });

  constructor(options: TargetCapacityOptions = {}) {
    const prealloc = options.preallocated;
    const preallocMiB = prealloc === undefined ? undefined : prealloc.size / MIB;
    const max = options.maxMemoryMiB ?? preallocMiB ?? defaultMaxMemoryMiB();
    positiveWhole(max, `memory budget ${max} MiB`);
    if (preallocMiB !== undefined && preallocMiB > max) {
      throw new MdevError(
        "EINVAL",
        `preallocated guest RAM of ${preallocMiB} MiB exceeds the memory budget of ${max} MiB`,
      );
    }
    const maxVcpus = options.maxVcpus ?? defaultMaxVcpus();
    positiveWhole(maxVcpus, `vCPU limit ${maxVcpus}`);
    const maxDeviceStateMiB = options.maxDeviceStateMiB ?? DEFAULT_MAX_DEVICE_STATE_MIB;
    positiveWhole(maxDeviceStateMiB, `device state limit ${maxDeviceStateMiB} MiB`);
    this.maxMemoryMiB = max;
    this.maxVcpus = maxVcpus;
    this.maxDeviceStateMiB = maxDeviceStateMiB;
    this.#preallocated = prealloc;
    this.vcpuThreads = options.vcpuThreads;
    this.#reclaim = options.reclaim;
  }

  /**
   * MiB counted against the budget now: the VM loading, admitted VMs that run, and dropped
   * VMs' RAM until it is freed.
   */
  get hostedMiB(): number {
    return this.#hostedMiB;
  }

  /** Whether a VM is being received. */
  get loading(): boolean {
    return this.#loading;
  }

  /** The prefaulted RAM waiting for the next VM, if any. */
  get preallocated(): GuestMemory | undefined {
    return this.#preallocated;
  }

  /**
   * Hands prefaulted RAM to the next VM (after the last one took it); it must fit the
   * budget. `preparing` is its prefault when that still runs: a VM admitted meanwhile
   * waits for it ({@link Admission.ready}).
   */
  preallocate(memory: GuestMemory, preparing?: Promise<void>): void {
    const mib = memory.size / MIB;
    if (this.#hostedMiB + mib > this.maxMemoryMiB) {
      throw new MdevError(
        "ENOMEM",
        `cannot preallocate ${mib} MiB: ${this.#hostedMiB} of the ${this.maxMemoryMiB} MiB budget are in use`,
      );
    }
    this.#preallocated = memory;
    this.#preparing = preparing;
  }

  /**
   * Admits `config` to load here, or throws (nothing allocated): EBUSY while another VM
   * loads, EINVAL for a size other than the preallocated RAM's or too many vCPUs, ENOMEM
   * over the budget.
   */
  admit(config: VmConfig): Admission {
    const mib = config.memoryMiB;
    if (this.#loading) {
      throw new MdevError("EBUSY", "another migration is being received here; try again later");
    }
    if (config.vcpus > this.maxVcpus) {
      throw new MdevError(
        "EINVAL",
        `the VM has ${config.vcpus} vCPUs; this target hosts at most ${this.maxVcpus}`,
      );
    }
    const prealloc = this.#preallocated;
    if (prealloc !== undefined && prealloc.size !== mib * MIB) {
      throw new MdevError(
        "EINVAL",
        `the VM has ${mib} MiB of RAM; this target is prepared for ${prealloc.size / MIB} MiB`,
      );
    }
    if (this.#hostedMiB + mib > this.maxMemoryMiB) {
      const used = this.#hostedMiB > 0 ? ` (${this.#hostedMiB} MiB already hosted)` : "";
      throw new MdevError(
        "ENOMEM",
        `the VM has ${mib} MiB of RAM; this target's memory budget is ${this.maxMemoryMiB} MiB${used}`,
      );
    }
    this.#loading = true;
    this.#hostedMiB += mib;
    this.#preallocated = undefined;
    const ready = this.#preparing ?? Promise.resolve();
    this.#preparing = undefined;
    return new CapacityAdmission(prealloc, ready, (memory, running, built) =>
      this.#settle(mib, memory, running, built),
    );
  }

  /**
   * Destroys a VM this capacity's targets received and gives its RAM back to the budget (a
   * VM never admitted here is only destroyed). The RAM goes back to the OS at once where
   * core's addon is built; without it, once the caller dropped the VM and the runtime
   * collected it — the caller holds it here, so its share is free at once either way.
   */
  async release(vm: { readonly memory: GuestMemory; destroy(): Promise<void> }): Promise<void> {
    await vm.destroy();
    const mib = this.#running.get(vm.memory);
    if (mib === undefined) return;
    this.#running.delete(vm.memory);
    await releaseInSlices(vm.memory);
    this.#hostedMiB -= mib;
  }

  async #settle(
    mib: number,
    prealloc: GuestMemory | undefined,
    running: GuestMemory | undefined,
    built: GuestMemory | undefined,
  ): Promise<void> {
    this.#loading = false;
    if (running !== undefined) {
      this.#running.set(running, mib);
      return;
    }
    if (prealloc !== undefined && this.#preallocated === undefined) {
      // Preallocated RAM waiting for its VM is the budget's own, not counted in it.
      this.#hostedMiB -= mib;
      this.#preallocated = prealloc;
      // The failed VM wrote into it; a target relies on fresh RAM reading as zeros. The
      // next VM waits for that (Admission.ready), not this process's other connections.
      const zeroing = zeroInSlices(prealloc);
      this.#preparing = zeroing;
      return zeroing;
    }
    return this.#free(mib, built ?? prealloc);
  }

  /**
   * Gives `mib` back to the budget once `memory` (a dropped VM's RAM) is freed: at once when
   * there is none (the VM was never built) or core's addon returned it to the OS, else when
   * the runtime collected its buffers. Counting it free before let a loop of abandoned
   * handshakes grow a listener past its budget until the kernel killed it.
   */
  async #free(mib: number, memory: GuestMemory | undefined): Promise<void> {
    if (memory === undefined || (await releaseInSlices(memory))) this.#hostedMiB -= mib;
    else {
      const held: Uncollected = { buffers: 0, mib };
      for (const segment of memory.layout.segments) {
        held.buffers += 1;
        this.#uncollected.register(segment, held);
      }
    }
    this.#reclaim?.();
  }
}

/** EINVAL unless `value` is a whole number of at least 1; `what` names it, value included. */
function positiveWhole(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new MdevError("EINVAL", `${what} is not a positive whole number`);
}

/** Dropped guest RAM waiting for the runtime: its buffers not collected yet, and its MiB. */
interface Uncollected {
  buffers: number;
  readonly mib: number;
}

type Settle = (
  memory: GuestMemory | undefined,
  running: GuestMemory | undefined,
  built: GuestMemory | undefined,
) => Promise<void>;

class CapacityAdmission implements Admission {
  readonly ready: Promise<void>;
  #memory: GuestMemory | undefined;
  #settle: Settle | undefined;

  constructor(memory: GuestMemory | undefined, ready: Promise<void>, settle: Settle) {
    this.#memory = memory;
    this.ready = ready;
    this.#settle = settle;
  }

  get memory(): GuestMemory | undefined {
    return this.#memory;
  }

  running(memory: GuestMemory): void {
    void this.#end(memory, undefined);
  }

  discard(memory?: GuestMemory): Promise<void> {
    return this.#end(undefined, memory);
  }

  async #end(running: GuestMemory | undefined, built: GuestMemory | undefined): Promise<void> {
    const settle = this.#settle;
    const memory = this.#memory;
    // Drop both references first: a settled admission must not keep guest RAM alive.
    this.#settle = undefined;
    this.#memory = undefined;
    await settle?.(memory, running, built);
  }
}
