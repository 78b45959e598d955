import { availableParallelism, totalmem } from "node:os";
import { MdevError } from "../errors/mdev-error.js";
import type { GuestMemory } from "../memory/guest-memory.js";
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
   * Called after a refused or failed VM's memory was dropped (not kept for reuse): where
   * a caller can make the runtime return it to the OS now rather than at its next GC.
   */
  readonly reclaim?: () => void;
}

/** One VM admitted to load here: the RAM to build it on, if prepared, and its release. */
export interface Admission {
  /** The preallocated RAM this VM gets (cleared once settled). */
  readonly memory: GuestMemory | undefined;
  /**
   * The VM runs on `memory`: the loading slot is free again, and its RAM stays counted
   * against the budget until {@link TargetCapacity.release}.
   */
  running(memory: GuestMemory): void;
  /**
   * The VM was dropped: the loading slot and its share of the budget are free again, and
   * preallocated RAM (zeroed) waits for the next VM. Idempotent, and no-op after running.
   */
  discard(): void;
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
  /** The vCPU threads started ahead for incoming VMs, if any. */
  readonly vcpuThreads: VcpuThreads | undefined;
  readonly #reclaim: (() => void) | undefined;
  #preallocated: GuestMemory | undefined;
  /** MiB of the VM loading now and of the VMs admitted that run. */
  #hostedMiB = 0;
  #loading = false;
  /** MiB of each admitted VM that runs, by its RAM. */
  readonly #running = new Map<GuestMemory, number>();

  constructor(options: TargetCapacityOptions = {}) {
    const prealloc = options.preallocated;
    const preallocMiB = prealloc === undefined ? undefined : prealloc.size / MIB;
    const max = options.maxMemoryMiB ?? preallocMiB ?? defaultMaxMemoryMiB();
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new MdevError("EINVAL", `memory budget ${max} MiB is not a positive whole number`);
    }
    if (preallocMiB !== undefined && preallocMiB > max) {
      throw new MdevError(
        "EINVAL",
        `preallocated guest RAM of ${preallocMiB} MiB exceeds the memory budget of ${max} MiB`,
      );
    }
    const maxVcpus = options.maxVcpus ?? defaultMaxVcpus();
    if (!Number.isSafeInteger(maxVcpus) || maxVcpus < 1) {
      throw new MdevError("EINVAL", `vCPU limit ${maxVcpus} is not a positive whole number`);
    }
    this.maxMemoryMiB = max;
    this.maxVcpus = maxVcpus;
    this.#preallocated = prealloc;
    this.vcpuThreads = options.vcpuThreads;
    this.#reclaim = options.reclaim;
  }

  /** MiB counted against the budget now (the VM loading, and admitted VMs that run). */
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

  /** Hands prefaulted RAM to the next VM (after the last one took it); it must fit the budget. */
  preallocate(memory: GuestMemory): void {
    const mib = memory.size / MIB;
    if (this.#hostedMiB + mib > this.maxMemoryMiB) {
      throw new MdevError(
        "ENOMEM",
        `cannot preallocate ${mib} MiB: ${this.#hostedMiB} of the ${this.maxMemoryMiB} MiB budget are in use`,
      );
    }
    this.#preallocated = memory;
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
    return new CapacityAdmission(prealloc, (memory, running) => this.#settle(mib, memory, running));
  }

  /**
   * Destroys a VM this capacity's targets received and gives its RAM back to the budget
   * (a VM never admitted here is only destroyed).
   */
  async release(vm: { readonly memory: GuestMemory; destroy(): Promise<void> }): Promise<void> {
    await vm.destroy();
    const mib = this.#running.get(vm.memory);
    if (mib === undefined) return;
    this.#running.delete(vm.memory);
    this.#hostedMiB -= mib;
  }

  #settle(mib: number, memory: GuestMemory | undefined, running: GuestMemory | undefined): void {
    this.#loading = false;
    if (running !== undefined) {
      this.#running.set(running, mib);
      return;
    }
    this.#hostedMiB -= mib;
    if (memory !== undefined && this.#preallocated === undefined) {
      // The failed VM wrote into it; a target relies on fresh RAM reading as zeros.
      zero(memory);
      this.#preallocated = memory;
      return;
    }
    this.#reclaim?.();
  }
}

type Settle = (memory: GuestMemory | undefined, running: GuestMemory | undefined) => void;

class CapacityAdmission implements Admission {
  #memory: GuestMemory | undefined;
  #settle: Settle | undefined;

  constructor(memory: GuestMemory | undefined, settle: Settle) {
    this.#memory = memory;
    this.#settle = settle;
  }

  get memory(): GuestMemory | undefined {
    return this.#memory;
  }

  running(memory: GuestMemory): void {
    this.#end(memory);
  }

  discard(): void {
    this.#end(undefined);
  }

  #end(running: GuestMemory | undefined): void {
    const settle = this.#settle;
    const memory = this.#memory;
    // Drop both references first: a settled admission must not keep guest RAM alive.
    this.#settle = undefined;
    this.#memory = undefined;
    settle?.(memory, running);
  }
}

function zero(memory: GuestMemory): void {
  for (let gpa = 0; gpa < memory.size; gpa += memory.segmentSize) {
    memory.view(gpa, Math.min(memory.segmentSize, memory.size - gpa)).fill(0);
  }
  memory.dirtyLog.clear();
}
