/**
 * A device's migration data session: the userspace view of the kernel's data fd.
 *
 * Bytes are opaque and owned by the driver; their order is the only structure the
 * engine relies on. A saving stream is read, a resuming stream is written.
 */
export interface MigrationDataStream {
  /** Which way the bytes flow. */
  readonly direction: "saving" | "resuming";
  /** True once the session ended (the arc out of the saving/resuming state was taken or the device reset). */
  readonly closed: boolean;
  /**
   * Saving streams: reads up to `maxBytes` bytes.
   *
   * - Returns a non-empty buffer while data is available.
   * - In PRE_COPY / PRE_COPY_P2P, at the *temporary* end (nothing new yet) throws
   *   `MdevError` ENOMSG; more may come later.
   * - In STOP_COPY, once the final state is fully read, returns an empty buffer:
   *   the permanent end.
   * - After the session ended: ENODEV. On a resuming stream: EINVAL.
   */
  read(maxBytes: number): Promise<Uint8Array>;
  /**
   * Resuming streams: appends `chunk` and returns how many bytes were accepted
   * (always all of them unless it throws). Any chunking is accepted, down to one byte.
   * Drivers may validate early (e.g. a header) and refuse with a typed error.
   * After the session ended: ENODEV. On a saving stream: EINVAL.
   */
  write(chunk: Uint8Array): Promise<number>;
}

/** Result of VFIO_MIG_GET_PRECOPY_INFO. */
export interface PrecopyInfo {
  /** Bytes of the initial precopy data not yet read; starts non-zero and falls to 0. */
  readonly initialBytes: number;
  /** Estimate of further bytes available because device state changed since it was read. */
  readonly dirtyBytes: number;
}
