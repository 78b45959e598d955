import {
  chooseDirtyTracking,
  type DeviceContext,
  type DirtyTrackingMethod,
  type DmaAccess,
  MdevError,
  PAGE_SIZE,
  type VendorPlugin,
} from "@mdevkit/core";

/**
 * Guest memory a plugin's unit tests can inspect directly: a flat byte array at IOVA 0
 * with every access recorded. Unlike the suite's harness (guest RAM behind a real
 * IOMMU and `DmaPort`), it has no dirty log and no faults inside its size, so a test
 * sees exactly what the device did and nothing else.
 */
export class FakeDma implements DmaAccess {
  /** The guest's memory, IOVA = index. */
  readonly memory: Uint8Array;
  /** Every write, in order. */
  readonly writes: { iova: number; length: number }[] = [];
  /** Every read, in order. */
  readonly reads: { iova: number; length: number }[] = [];

  /** `size` bytes of guest memory; 4 MiB by default. */
  constructor(size = 1 << 22) {
    this.memory = new Uint8Array(size);
  }

  read(iova: number, length: number): Uint8Array {
    this.#check(iova, length);
    this.reads.push({ iova, length });
    return this.memory.slice(iova, iova + length);
  }

  write(iova: number, data: Uint8Array): void {
    this.#check(iova, data.byteLength);
    this.writes.push({ iova, length: data.byteLength });
    this.memory.set(data, iova);
  }

  /** Same refusal as an unmapped IOVA behind a real IOMMU: a typed EFAULT. */
  #check(iova: number, length: number): void {
    if (!Number.isSafeInteger(iova) || iova < 0 || iova + length > this.memory.byteLength) {
      throw new MdevError("EFAULT", `IOVA 0x${iova.toString(16)}+${length} is not mapped`);
    }
  }
}

/** What {@link fakeDeviceContext} fills in; everything but `deviceType` has a default. */
export interface FakeContextOptions {
  /** Device type (passed through unchecked). */
  readonly deviceType: string;
  /** `DeviceContext.seed`; 1 by default. */
  readonly seed?: number;
  /** `DeviceContext.options`; `{}` by default. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Guest memory; a fresh {@link FakeDma} of {@link memoryBytes} by default. */
  readonly dma?: DmaAccess;
  /**
   * Guest RAM size for `DeviceContext.guestMemory`: the {@link FakeDma}'s size when `dma`
   * is one, else 4 MiB.
   */
  readonly memoryBytes?: number;
  /** The host's dirty-tracking choice; the device type's default by default. */
  readonly dirtyTracking?: DirtyTrackingMethod;
  /** Interrupt lines; one vector that ignores raises by default. */
  readonly irq?: DeviceContext["irq"];
  /** PCI slot; `"00:03.0"` by default. */
  readonly slot?: string;
  /** Page pinner, for `iommu-pinned` devices. */
  readonly pinner?: DeviceContext["pinner"];
}

/**
 * A `DeviceContext` for constructing a plugin's driver directly in a unit test, filled
 * the way the host fills it for `plugin` (a clock stopped at 0). `deviceType` is passed
 * through unchecked, so a test can see the driver refuse an unknown one. Tests that
 * build contexts through this keep compiling when the host adds a field.
 */
export function fakeDeviceContext(plugin: VendorPlugin, o: FakeContextOptions): DeviceContext {
  const dma = o.dma ?? new FakeDma(o.memoryBytes);
  const size = o.memoryBytes ?? (dma instanceof FakeDma ? dma.memory.byteLength : 1 << 22);
  if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
    throw new MdevError("EINVAL", `guest memory of ${size} bytes is not a whole number of pages`);
  }
  // An unknown device type keeps the plugin's default, so the driver is what refuses it.
  const known = plugin.deviceTypes.some((t) => t.name === o.deviceType);
  const dirtyTracking = known
    ? chooseDirtyTracking(plugin, o.deviceType, o.dirtyTracking)
    : (o.dirtyTracking ?? (plugin.dirtyTracking[0] as DirtyTrackingMethod));
  return {
    slot: o.slot ?? "00:03.0",
    deviceType: o.deviceType,
    migrationFlags: plugin.migrationFlags,
    dirtyTracking,
    guestMemory: { size, pages: size / PAGE_SIZE, pageSize: PAGE_SIZE },
    options: o.options ?? {},
    dma,
    irq: o.irq ?? { count: 1, raise: () => {} },
    clock: { nowNs: () => 0n },
    seed: o.seed ?? 1,
    ...(o.pinner ? { pinner: o.pinner } : {}),
  };
}
