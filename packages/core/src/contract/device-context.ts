/**
 * Device access to guest memory through the IOMMU, as a host gives it to a device.
 * Addresses are IOVAs; an unmapped or read-only IOVA faults with a typed error.
 */
export interface DmaAccess {
  /** Reads `length` bytes at `iova` into a new buffer. */
  read(iova: number, length: number): Uint8Array;
  /** Writes `data` at `iova`; every byte lands in guest RAM and is visible to dirty tracking. */
  write(iova: number, data: Uint8Array): void;
}

/** The device's interrupt lines (MSI/MSI-X vectors or INTx as vector 0). */
export interface InterruptLines {
  /** Number of vectors wired by the host. */
  readonly count: number;
  /** Raises vector `vector`; the host counts and routes it. */
  raise(vector: number): void;
}

/** A monotonic clock in nanoseconds; simulated hosts may run it virtually. */
export interface Clock {
  /** Current time in nanoseconds since an arbitrary origin. */
  nowNs(): bigint;
}

/** Pinning pages through the host IOMMU (type1 `vfio_pin_pages`). */
export interface PagePinner {
  /** Pins `count` pages starting at `iova` (page aligned); pinned pages count as dirty under IOMMU tracking. */
  pin(iova: number, count: number): void;
  /** Drops one reference from each of `count` pages at `iova`. */
  unpin(iova: number, count: number): void;
}

/** What a host gives a device it creates: identity, options and its wiring. */
export interface DeviceContext {
  /** Slot the device occupies in the VM, e.g. `"00:02.0"`; stable across migration. */
  readonly slot: string;
  /** Device type chosen from the plugin's `deviceTypes`. */
  readonly deviceType: string;
  /** Plugin-specific options from the VM config (the plugin validates them). */
  readonly options: Readonly<Record<string, unknown>>;
  /** DMA into guest memory through the IOMMU. */
  readonly dma: DmaAccess;
  /** Interrupt lines wired to the guest. */
  readonly irq: InterruptLines;
  /** The host clock. */
  readonly clock: Clock;
  /** Page pinning, for plugins whose dirty tracking is `"iommu-pinned"`. */
  readonly pinner?: PagePinner;
  /** Deterministic seed for any randomness the device model uses. */
  readonly seed: number;
}
