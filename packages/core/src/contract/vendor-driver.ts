import type { MigFlagSet } from "../fsm/mig-flags.js";
import type { MigState } from "../fsm/mig-state.js";
import type { DmaLogRange } from "./dma-log-range.js";
import type { MigrationDataStream, PrecopyInfo } from "./migration-data-stream.js";

/** How a device's DMA writes into guest memory reach the VMM's dirty bitmap (uAPI §7). */
export type DirtyTrackingMethod = "dma-logging" | "iommu-pinned" | "vendor-bitmap";

/** Every {@link DirtyTrackingMethod}, for validation and tables. */
export const DIRTY_TRACKING_METHODS: readonly DirtyTrackingMethod[] = [
  "dma-logging",
  "iommu-pinned",
  "vendor-bitmap",
];

/**
 * The migration driver of one device instance: the operations Linux's
 * `vfio_migration_ops`, `vfio_log_ops` and reset give a VMM, in TypeScript.
 *
 * Implement it by extending {@link AbstractVendorDriver}, which checks the contract and
 * leaves only device-specific hooks to write.
 */
export interface VendorDriver {
  /** Capability flags (one of the legal sets). */
  readonly migrationFlags: MigFlagSet;
  /** How this device reports pages it dirtied (the host's choice, from `DeviceContext`). */
  readonly dirtyTracking: DirtyTrackingMethod;

  /**
   * Performs exactly one direct arc from the current state to `next`
   * (`migration_set_state` for one step). Returns the new data stream when the arc
   * opens one (STOP → STOP_COPY, STOP → RESUMING, RUNNING → PRE_COPY,
   * RUNNING_P2P → PRE_COPY_P2P), otherwise `undefined`.
   *
   * On failure the state is unchanged, unless the error says the device broke
   * (then it is ERROR). A request that is not a direct arc fails with EINVAL.
   * Use {@link driveTransition} to reach any state along the kernel's path.
   */
  setState(next: MigState): Promise<MigrationDataStream | undefined>;
  /** The committed state (`migration_get_state`). */
  getState(): MigState;
  /** Estimated bytes STOP_COPY will produce from now (`migration_get_data_size`); valid in any state. */
  getDataSize(): Promise<number>;
  /** VFIO_MIG_GET_PRECOPY_INFO; EINVAL outside PRE_COPY / PRE_COPY_P2P. */
  precopyInfo(): Promise<PrecopyInfo>;

  /**
   * Starts device DMA logging over `ranges` (DMA_LOGGING_START) with a page-size hint;
   * returns the page size the device chose. EINVAL on bad ranges or a second start,
   * E2BIG on too many ranges, ENOTSUP when the device does not log DMA.
   */
  logStart(ranges: readonly DmaLogRange[], pageSizeHint: number): Promise<number>;
  /** Stops DMA logging; tolerated when logging is off. */
  logStop(): Promise<void>;
  /**
   * Read-and-clear of the dirty log for `[iova, iova + length)` (DMA_LOGGING_REPORT):
   * sets bit n (word n/64, bit n%64) of `bitmap` for each dirty page of `pageSize` at
   * `iova + n * pageSize`; never clears bits in `bitmap`.
   */
  logReadAndClear(
    iova: number,
    length: number,
    pageSize: number,
    bitmap: BigUint64Array,
  ): Promise<void>;

  /**
   * Starts vendor dirty reporting (`"vendor-bitmap"` devices) with nothing dirty; ENOTSUP
   * for devices that track another way.
   */
  vendorDirtyStart(): Promise<void>;
  /** Stops vendor dirty reporting; tolerated when it is off. */
  vendorDirtyStop(): Promise<void>;
  /**
   * Device-reported dirty frames (`"vendor-bitmap"` devices): sets the bit of every guest
   * page (guest-physical page number) the device wrote since the last call, then forgets
   * them; never clears bits. EINVAL when reporting is not started or the bitmap cannot
   * hold every guest page; ENOTSUP for devices that track another way.
   */
  reportDirtyPages(bitmap: BigUint64Array): Promise<void>;

  /**
   * Advances the simulated device by one step of the work a real device does on its own
   * while running (traffic arriving, jobs completing): DMA into guest memory, interrupts.
   * The host calls it periodically while the VM exists; a device that is not running
   * (STOP, STOP_COPY, RESUMING, ERROR) does nothing. It must not throw: a device that fails
   * in its own work enters ERROR, as hardware does, and the VM goes on running.
   */
  tick(): void;

  /** Resets the device: state RUNNING, any open data stream disabled (ENODEV). */
  reset(): Promise<void>;

  /** Size of the PCI configuration space in bytes (256 or 4096). */
  readonly configSpaceSize: number;
  /** Reads `length` bytes of PCI config space at `offset`. */
  configRead(offset: number, length: number): Uint8Array;
  /** Writes PCI config space at `offset` (the VMM restores it on the target before RESUMING). */
  configWrite(offset: number, data: Uint8Array): void;

  /**
   * Opaque compatibility data describing this device instance (model, capabilities,
   * stream version); the target's plugin judges it with `checkCompatible`.
   */
  compatibilityData(): Uint8Array;
}
