import {
  type Clock,
  chooseDirtyTracking,
  type DeviceContext,
  DirtyOracle,
  type DirtyTrackingMethod,
  DmaPort,
  driveTransition,
  GuestMemory,
  InterruptCounter,
  Iommu,
  IommuPagePinner,
  isMdevError,
  type MigFlagSet,
  MigFlags,
  type MigrationDataStream,
  MigState,
  migFlagsName,
  PAGE_SIZE,
  type VendorDriver,
  type VendorPlugin,
} from "@mdevkit/core";
import { concatBytes } from "./bytes.js";
import { createRng, deriveSeed, type Rng } from "./rng.js";
import { TraceRecorder } from "./trace.js";
import { ConformanceConfigError } from "./violation.js";

/** A clock that only moves when told to, so nothing in a run depends on wall time. */
export class VirtualClock implements Clock {
  #ns = 0n;

  nowNs(): bigint {
    return this.#ns;
  }

  /** Moves the clock forward by `ns`. */
  advance(ns: bigint): void {
    this.#ns += ns;
  }
}

/** How to build one device; see {@link createDeviceHarness}. */
export interface HarnessOptions {
  /** Device type to create. */
  readonly deviceType: string;
  /** `DeviceContext.options`. */
  readonly deviceOptions?: Readonly<Record<string, unknown>>;
  /** The host's dirty-tracking choice; the device type's default when absent. */
  readonly dirtyTracking?: DirtyTrackingMethod;
  /** The flags the driver must declare; the plugin's when absent. */
  readonly migrationFlags?: MigFlagSet;
  /** `DeviceContext.seed`; also seeds {@link DeviceHarness.rng}. */
  readonly seed: number;
  /** Guest RAM bytes (mapped 1:1 for device DMA). */
  readonly memoryBytes: number;
  /** Interrupt vectors wired. */
  readonly interruptVectors?: number;
  /** PCI slot; `"00:04.0"` by default. */
  readonly slot?: string;
  /** Salt for the harness's own generator (so source and target draw differently). */
  readonly rngSalt?: number;
}

/**
 * One device built host-side exactly as the engine builds it: guest RAM, an IOMMU with
 * RAM mapped 1:1, a `DmaPort`, an `InterruptCounter`, a page pinner for plugins that do
 * not log DMA themselves; then `plugin.create(ctx)`. The suite's observers (trace, dirty
 * oracle) sit on the host side of the DMA port and interrupt lines.
 */
export interface DeviceHarness<D extends VendorDriver = VendorDriver> {
  readonly plugin: VendorPlugin;
  readonly driver: D;
  readonly ctx: DeviceContext;
  readonly memory: GuestMemory;
  readonly iommu: Iommu;
  readonly dma: DmaPort;
  readonly irq: InterruptCounter;
  readonly pinner: IommuPagePinner | undefined;
  readonly clock: VirtualClock;
  /** Every DMA write and interrupt, in order. */
  readonly trace: TraceRecorder;
  /** Every guest page the device wrote since creation or the last `oracle.reset()`. */
  readonly oracle: DirtyOracle;
  /** This harness's generator, for hooks. */
  readonly rng: Rng;
  /** Drops the device's pins and detaches it from the IOMMU. */
  dispose(): void;
}

/** Builds a {@link DeviceHarness} for `plugin`; see there. */
export async function createDeviceHarness<D extends VendorDriver = VendorDriver>(
  plugin: VendorPlugin,
  options: HarnessOptions,
): Promise<DeviceHarness<D>> {
  const memory = GuestMemory.create({ size: options.memoryBytes });
  const iommu = new Iommu({ guestSize: options.memoryBytes });
  iommu.map({ iova: 0, gpa: 0, length: options.memoryBytes });
  const dma = new DmaPort(iommu, memory);
  const irq = new InterruptCounter(options.interruptVectors ?? 8);
  const slot = options.slot ?? "00:04.0";
  const dirtyTracking = chooseDirtyTracking(plugin, options.deviceType, options.dirtyTracking);
  // Same rule as SimulatedVm: every device but a DMA-logging one gets a pinner.
  const pinner = dirtyTracking === "dma-logging" ? undefined : new IommuPagePinner(iommu, slot);
  const clock = new VirtualClock();
  const trace = new TraceRecorder(memory);
  const oracle = new DirtyOracle(memory.pages);
  dma.attach(trace);
  dma.attach(oracle);
  irq.onRaise((vector) => trace.onInterrupt(vector));
  const ctx: DeviceContext = {
    slot,
    deviceType: options.deviceType,
    migrationFlags: plugin.migrationFlags,
    dirtyTracking,
    guestMemory: { size: memory.size, pages: memory.pages, pageSize: PAGE_SIZE },
    options: options.deviceOptions ?? {},
    dma,
    irq,
    clock,
    seed: options.seed,
    ...(pinner ? { pinner } : {}),
  };
  const driver = (await plugin.create(ctx)) as D;
  const flags = options.migrationFlags ?? plugin.migrationFlags;
  if (driver.migrationFlags !== flags) {
    throw new ConformanceConfigError(
      `plugin "${plugin.name}" created a driver with flags ${migFlagsName(driver.migrationFlags)}, expected ${migFlagsName(flags)} (set the migrationFlags option when device options narrow them)`,
    );
  }
  return {
    plugin,
    driver,
    ctx,
    memory,
    iommu,
    dma,
    irq,
    pinner,
    clock,
    trace,
    oracle,
    rng: createRng(deriveSeed(options.seed, options.rngSalt ?? 0)),
    dispose: () => pinner?.release(),
  };
}

/**
 * Reads a saving stream until its current end: ENOMSG (PRE_COPY's temporary end) or a
 * 0-byte read (STOP_COPY's permanent end). Returns the bytes and which end was met.
 */
export async function drainStream(
  stream: MigrationDataStream,
  chunk = 1 << 16,
): Promise<{ bytes: Uint8Array; end: "ENOMSG" | "EOF" }> {
  const parts: Uint8Array[] = [];
  for (;;) {
    let bytes: Uint8Array;
    try {
      bytes = await stream.read(chunk);
    } catch (err) {
      if (isMdevError(err, "ENOMSG")) return { bytes: concatBytes(parts), end: "ENOMSG" };
      throw err;
    }
    if (bytes.byteLength === 0) return { bytes: concatBytes(parts), end: "EOF" };
    parts.push(bytes.slice());
  }
}

/** Writes `bytes` to a resuming stream in chunks of the given sizes (cycled; each ≥ 1). */
export async function writeChunks(
  stream: MigrationDataStream,
  bytes: Uint8Array,
  sizes: readonly number[] = [bytes.byteLength || 1],
): Promise<void> {
  let at = 0;
  let i = 0;
  while (at < bytes.byteLength) {
    const size = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    const chunk = bytes.subarray(at, at + size);
    await stream.write(chunk);
    at += chunk.byteLength;
  }
}

/** Moves the device along the kernel's path to `state`; returns the stream the last arc opened. */
export async function reach(
  driver: VendorDriver,
  state: MigState,
): Promise<MigrationDataStream | undefined> {
  return (await driveTransition(driver, state)).stream;
}

/** A device's saved stream, split where the engine would see it. */
export interface SavedDevice {
  /** Bytes read during PRE_COPY (empty without PRE_COPY). */
  readonly precopy: Uint8Array;
  /** Bytes read in STOP_COPY. */
  readonly stopCopy: Uint8Array;
  /** The whole stream, as the target receives it. */
  readonly bytes: Uint8Array;
}

/** Options of {@link saveDevice}. */
export interface SaveOptions {
  /** Use PRE_COPY (when the device declares it); true by default. */
  readonly precopy?: boolean;
  /** Runs between the PRE_COPY drain and switchover (device still running). */
  readonly whilePrecopy?: () => Promise<void>;
  /** Read size; 64 KiB by default. */
  readonly chunk?: number;
}

/**
 * Saves a device the way the engine does: RUNNING → PRE_COPY (drain while running) →
 * STOP_COPY (drain to the permanent end) → STOP; or, without PRE_COPY, straight to
 * STOP_COPY. Leaves the device in STOP.
 */
export async function saveDevice(
  driver: VendorDriver,
  options: SaveOptions = {},
): Promise<SavedDevice> {
  const usePrecopy = (options.precopy ?? true) && (driver.migrationFlags & MigFlags.PRE_COPY) !== 0;
  let precopy: Uint8Array = new Uint8Array(0);
  let stream: MigrationDataStream | undefined;
  if (usePrecopy) {
    stream = await reach(driver, MigState.PRE_COPY);
    if (stream === undefined) throw new Error("RUNNING → PRE_COPY opened no stream");
    const parts = [(await drainStream(stream, options.chunk)).bytes];
    if (options.whilePrecopy) {
      await options.whilePrecopy();
      parts.push((await drainStream(stream, options.chunk)).bytes);
    }
    precopy = concatBytes(parts);
    await reach(driver, MigState.STOP_COPY);
  } else {
    stream = await reach(driver, MigState.STOP_COPY);
    if (stream === undefined) throw new Error("STOP → STOP_COPY opened no stream");
  }
  const { bytes: stopCopy } = await drainStream(stream, options.chunk);
  await reach(driver, MigState.STOP);
  return { precopy, stopCopy, bytes: concatBytes([precopy, stopCopy]) };
}

/**
 * Loads `bytes` into a device the way the engine's target does: → RESUMING, write in
 * chunks of `sizes`, → STOP. Leaves the device in STOP (not RUNNING: the target waits for GO).
 */
export async function loadDevice(
  driver: VendorDriver,
  bytes: Uint8Array,
  sizes?: readonly number[],
): Promise<void> {
  const stream = await reach(driver, MigState.RESUMING);
  if (stream === undefined) throw new Error("STOP → RESUMING opened no stream");
  await writeChunks(stream, bytes, sizes);
  await reach(driver, MigState.STOP);
}
