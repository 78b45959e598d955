import type { MigFlagSet } from "../fsm/mig-flags.js";
import type { DirtyTrackingMethod } from "./vendor-driver.js";

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

/** The guest RAM a device's DMA reaches; the host maps it 1:1 (IOVA = guest-physical address). */
export interface GuestMemoryInfo {
  /** Guest RAM size in bytes (a multiple of {@link pageSize}). */
  readonly size: number;
  /** Guest pages: `size / pageSize` (the length of a guest dirty bitmap in bits). */
  readonly pages: number;
  /** Always 4096. */
  readonly pageSize: number;
}

/** What a host gives a device it creates: identity, options and its wiring. */
export interface DeviceContext {
  /** Slot the device occupies in the VM, e.g. `"00:02.0"`; stable across migration. */
  readonly slot: string;
  /** Device type chosen from the plugin's `deviceTypes`. */
  readonly deviceType: string;
  /** The plugin's migration flags (its manifest's); a driver may narrow them for this device. */
  readonly migrationFlags: MigFlagSet;
  /**
   * How this device reports the guest pages it dirties: the VM config's choice among the
   * methods its plugin and device type offer (the first offered by default).
   */
  readonly dirtyTracking: DirtyTrackingMethod;
  /** The guest RAM layout, e.g. to size a vendor dirty bitmap. */
  readonly guestMemory: GuestMemoryInfo;
  /** Plugin-specific options from the VM config (the plugin validates them). */
  readonly options: Readonly<Record<string, unknown>>;
  /** DMA into guest memory through the IOMMU. */
  readonly dma: DmaAccess;
  /** Interrupt lines wired to the guest. */
  readonly irq: InterruptLines;
  /** The host clock. */
  readonly clock: Clock;
  /** Page pinning through the IOMMU; given to every device except DMA-logging ones. */
  readonly pinner?: PagePinner;
  /** Deterministic seed for any randomness the device model uses. */
  readonly seed: number;
}
