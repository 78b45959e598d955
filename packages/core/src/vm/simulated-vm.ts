import type { DeviceContext } from "../contract/device-context.js";
import { chooseDirtyTracking } from "../contract/dirty-tracking-choice.js";
import type { VendorDriver } from "../contract/vendor-driver.js";
import type { VendorPlugin } from "../contract/vendor-plugin.js";
import { MdevError } from "../errors/mdev-error.js";
import type { MdevHost } from "../host.js";
import { DmaPort } from "../memory/dma-port.js";
import { GuestMemory } from "../memory/guest-memory.js";
import { Iommu } from "../memory/iommu.js";
import { IommuPagePinner } from "../memory/iommu-page-pinner.js";
import { PAGE_SIZE } from "../memory/page.js";
import { deviceCreationError } from "./device-creation-error.js";
import { InterruptCounter } from "./interrupt-counter.js";
import { Vcpu } from "./vcpu.js";
import type { VcpuThreads } from "./vcpu-threads.js";
import type { DeviceConfig, VmConfig } from "./vm-config.js";
import { vcpuSeed } from "./workload-pattern.js";

/** Interrupt vectors wired per device (an MSI-X table of this size). */
export const VECTORS_PER_DEVICE = 8;

/** One device of a running VM, with the host wiring it was created on. */
export interface VmDevice {
  /** Position in the VM config (the stream's device index). */
  readonly index: number;
  /** The device's configuration. */
  readonly config: DeviceConfig;
  /** The plugin that created it. */
  readonly plugin: VendorPlugin;
  /** Its migration driver. */
  readonly driver: VendorDriver;
  /** Its DMA port (device view of guest memory through the IOMMU). */
  readonly dma: DmaPort;
  /** Its interrupt lines, as the host counts them. */
  readonly irq: InterruptCounter;
  /** Its page pinner, for iommu-pinned devices. */
  readonly pinner: IommuPagePinner | undefined;
}

/** How a VM is being created. */
export interface VmCreateOptions {
  /** A source VM fills RAM per `initialFill`; a target starts empty and waits for the stream. */
  readonly role: "source" | "target";
  /**
   * Guest RAM to use instead of allocating it (a target that preallocated and prefaulted
   * memory before the migration, as QEMU started with `-incoming -mem-prealloc` does).
   * Must be exactly the config's size; it is used as is (a target overwrites every page).
   */
  readonly memory?: GuestMemory;
  /**
   * vCPU threads started ahead (a target that prepared for the next VM): each vCPU takes
   * one while any wait, and starts its own thread otherwise.
   */
  readonly threads?: VcpuThreads;
}

/**
 * A simulated VM: guest RAM, an IOMMU with guest RAM mapped 1:1 for device DMA, vCPU
 * worker threads that dirty RAM, and devices created through the host's plugin registry.
 */
export class SimulatedVm {
  readonly config: VmConfig;
  readonly memory: GuestMemory;
  readonly iommu: Iommu;
  readonly devices: readonly VmDevice[];
  readonly #vcpus: Vcpu[];
  #ticker: NodeJS.Timeout | undefined;
  /** Devices whose driver threw from tick(): no longer ticked. */
  readonly #tickFailed = new Set<number>();
  #running = false;

  private constructor(
    config: VmConfig,
    memory: GuestMemory,
    iommu: Iommu,
    devices: VmDevice[],
    vcpus: Vcpu[],
  ) {
    this.config = config;
    this.memory = memory;
    this.iommu = iommu;
    this.devices = devices;
    this.#vcpus = vcpus;
  }

  /**
   * Builds the VM on `host`: allocates RAM (lazily), maps it for DMA, creates every device
   * through the registry (ENOENT for a missing plugin or device type; any failure names
   * the device's slot, plugin and type) and the vCPU workers (paused). Nothing runs until
   * {@link start}.
   */
  static async create(
    config: VmConfig,
    host: MdevHost,
    options: VmCreateOptions,
  ): Promise<SimulatedVm> {
    const size = config.memoryMiB * 2 ** 20;
    if (options.memory !== undefined && options.memory.size !== size) {
      throw new MdevError(
        "EINVAL",
        `preallocated guest RAM is ${options.memory.size} bytes, the VM needs ${size}`,
      );
    }
    const memory = options.memory ?? GuestMemory.create({ size });
    const iommu = new Iommu({ guestSize: size });
    iommu.map({ iova: 0, gpa: 0, length: size });
    if (options.role === "source") fillGuest(memory, config.initialFill, config.seed);
    const devices: VmDevice[] = [];
    try {
      for (const [index, dev] of config.devices.entries()) {
        devices.push(
          await createDevice(host, memory, iommu, config, dev, index).catch((err: unknown) => {
            throw deviceCreationError(dev, err);
          }),
        );
      }
    } catch (err) {
      for (const d of devices) d.pinner?.release();
      throw err;
    }
    const vcpus = Array.from(
      { length: config.vcpus },
      (_, i) =>
        new Vcpu(
          memory,
          i,
          config.workloads[i] ?? { pattern: "idle" },
          config.seed,
          options.threads?.take(),
        ),
    );
    return new SimulatedVm(config, memory, iommu, devices, vcpus);
  }

  /** Whether vCPUs run. */
  get running(): boolean {
    return this.#running;
  }

  /** Pages written by all vCPUs so far. */
  get vcpuWrites(): number {
    return this.#vcpus.reduce((sum, v) => sum + v.writes, 0);
  }

  /**
   * Each device's state as its plugin describes it (`null` where the plugin has no
   * `describeState`), by slot: what tools show and compare between source and target.
   */
  describeDevices(): Record<string, unknown> {
    return Object.fromEntries(
      this.devices.map((d) => [d.config.slot, d.plugin.describeState?.(d.driver) ?? null]),
    );
  }

  /** Starts the vCPUs and the devices' activity ticks. */
  async start(): Promise<void> {
    this.startDeviceActivity();
    await Promise.all(this.#vcpus.map((v) => v.resume()));
    this.#running = true;
  }

  /** Pauses every vCPU; resolves when none will write again until {@link resume}. */
  async pause(): Promise<void> {
    // Every vCPU is told before any is waited for, so they stop together.
    for (const v of this.#vcpus) v.requestPause();
    for (const v of this.#vcpus) await v.awaitPaused();
    this.#running = false;
  }

  /** Resumes the vCPUs after {@link pause}. */
  async resume(): Promise<void> {
    await Promise.all(this.#vcpus.map((v) => v.resume()));
    this.#running = true;
  }

  /** Auto-converge: holds every vCPU off `percent` of the time. */
  setThrottle(percent: number): void {
    for (const v of this.#vcpus) v.setThrottle(percent);
  }

  /**
   * Starts calling each driver's `tick()` every `deviceTickMs`: the work devices do on
   * their own. Drivers ignore ticks while not running, so this may run through migration.
   */
  startDeviceActivity(): void {
    if (this.#ticker !== undefined) return;
    if (this.devices.length === 0) return;
    this.#ticker = setInterval(() => {
      for (const d of this.devices) {
        if (this.#tickFailed.has(d.index)) continue;
        try {
          d.driver.tick();
        } catch {
          // A driver that breaks tick()'s contract (it must not throw) is not ticked again:
          // its device stops doing work on its own, and the VM and its process go on.
          this.#tickFailed.add(d.index);
        }
      }
    }, this.config.deviceTickMs);
    this.#ticker.unref();
  }

  /** Stops device activity ticks. */
  stopDeviceActivity(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  /** Stops everything and releases the workers. */
  async destroy(): Promise<void> {
    this.stopDeviceActivity();
    this.#running = false;
    await Promise.all(this.#vcpus.map((v) => v.destroy()));
    for (const d of this.devices) d.pinner?.release();
  }
}

async function createDevice(
  host: MdevHost,
  memory: GuestMemory,
  iommu: Iommu,
  config: VmConfig,
  dev: DeviceConfig,
  index: number,
): Promise<VmDevice> {
  const plugin = host.plugins.resolve(dev.plugin, dev.deviceType);
  const dirtyTracking = chooseDirtyTracking(plugin, dev.deviceType, dev.dirtyTracking);
  const dma = new DmaPort(iommu, memory);
  const irq = new InterruptCounter(VECTORS_PER_DEVICE);
  // Drivers that pin what they DMA to (mdev vendor drivers) keep IOMMU dirty tracking
  // precise; a device that does not pin makes type1 report everything dirty.
  const pinner = dirtyTracking === "dma-logging" ? undefined : new IommuPagePinner(iommu, dev.slot);
  const ctx: DeviceContext = {
    slot: dev.slot,
    deviceType: dev.deviceType,
    migrationFlags: plugin.migrationFlags,
    dirtyTracking,
    guestMemory: { size: memory.size, pages: memory.pages, pageSize: PAGE_SIZE },
    options: dev.options,
    dma,
    irq,
    clock: host.clock,
    seed: vcpuSeed(config.seed, 1000 + index),
    ...(pinner ? { pinner } : {}),
  };
  const driver = await plugin.create(ctx);
  if (
    (driver.migrationFlags & ~plugin.migrationFlags) !== 0 ||
    driver.dirtyTracking !== dirtyTracking
  ) {
    throw new MdevError(
      "EINVAL",
      `plugin "${plugin.name}" created a driver whose flags or dirty tracking differ from what it was given`,
    );
  }
  return { index, config: dev, plugin, driver, dma, irq, pinner };
}

/**
 * Gives a source VM realistic contents: `fraction` of pages hold pseudo-random data
 * (deterministic from the seed), the rest stay zero, as idle guest RAM mostly is. Pages
 * are drawn from a small pool of random pages and stamped with their page number, so
 * every page differs while filling gigabytes costs a memcpy per page, not a PRNG per word.
 */
function fillGuest(memory: GuestMemory, fraction: number, seed: number): void {
  if (fraction <= 0) return;
  let state = vcpuSeed(seed, 0xfff);
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const POOL = 16;
  const pool = new Uint8Array(PAGE_SIZE * POOL);
  const words = new Uint32Array(pool.buffer);
  for (let i = 0; i < words.length; i++) words[i] = next();
  const page = new Uint8Array(PAGE_SIZE);
  const stamp = new DataView(page.buffer);
  const threshold = fraction * 0x1_0000_0000;
  for (let pfn = 0; pfn < memory.pages; pfn++) {
    const draw = next();
    if (draw >= threshold) continue;
    const from = (draw % POOL) * PAGE_SIZE;
    page.set(pool.subarray(from, from + PAGE_SIZE));
    stamp.setUint32(0, pfn, true);
    memory.writeUntracked(pfn * PAGE_SIZE, page);
  }
}
