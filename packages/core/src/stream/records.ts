/**
 * The records of the migration stream as the encoder takes them and the decoder yields
 * them. Decoded records also carry `seq` and `offset` ({@link RecordMeta}).
 */

/** One device of the HANDSHAKE manifest. */
export interface ManifestDevice {
  /** Device slot in the VM (unique in the manifest). */
  readonly slot: number;
  /** Plugin package name, e.g. `@mdevkit/plugin-mtty`. */
  readonly plugin: string;
  /** Plugin version on the source (semver). */
  readonly pluginVersion: string;
  /** Device type name the plugin offers, e.g. `mtty-2`. */
  readonly deviceType: string;
  /** Opaque bytes the target's plugin checks in `checkCompatible`. */
  readonly compat: Uint8Array;
}

/** First forward record: what VM this is and what devices it owns. */
export interface HandshakeBody {
  readonly type: "HANDSHAKE";
  /** VM config as UTF-8 JSON bytes; its SHA-256 is the header's config digest. */
  readonly config: Uint8Array;
  /** Devices, one per slot. */
  readonly devices: readonly ManifestDevice[];
}

/**
 * A run of `count` consecutive guest pages from `startPage`. Bit i of `kinds` (LSB first)
 * is 1 when page `startPage + i` carries data, 0 when it is a zero page (sent as the bit
 * only). `data` holds the data pages back to back, in page order.
 */
export interface RamPagesBody {
  readonly type: "RAM_PAGES";
  readonly startPage: number;
  readonly count: number;
  /** ceil(count / 8) bytes; padding bits past `count` are 0. */
  readonly kinds: Uint8Array;
  /**
   * Format version 5: clear bits of `kinds` are pages the target keeps as they are, not
   * zero pages (RamRunFlags.SPARSE). The source leaves out pages it knows the target holds.
   */
  readonly sparse?: boolean;
  /** popcount(kinds) × page size bytes. On decode: a view into the receive buffer. */
  readonly data: Uint8Array;
  /** Decode only: CRC32C of each data page, in order (checked as part of the frame CRC). */
  readonly pageCrcs?: Uint32Array;
  /**
   * Decode only: the data pages were written straight into the decoder's RAM sink as they
   * arrived (`data` is then empty); the consumer still applies the zero pages.
   */
  readonly inSink?: boolean;
}

/** A device's PCI config space (BARs, command register, MSI-X capability...). */
export interface DeviceConfigBody {
  readonly type: "DEVICE_CONFIG";
  readonly slot: number;
  readonly config: Uint8Array;
}

/** Phase a DEVICE_DATA chunk was read in. */
export const DevicePhase = { PRE_COPY: 1, STOP_COPY: 2 } as const;

/** Value of {@link DevicePhase}. */
export type DevicePhase = (typeof DevicePhase)[keyof typeof DevicePhase];

/** A chunk of a device's opaque migration data, in stream order per slot. */
export interface DeviceDataBody {
  readonly type: "DEVICE_DATA";
  readonly slot: number;
  readonly phase: DevicePhase;
  /** On decode: a view into the receive buffer. */
  readonly data: Uint8Array;
}

/**
 * Every byte of a device's initial precopy data (its `initialBytes`) is in the stream
 * before this record. The target answers SWITCHOVER_ACK once it has loaded that much for
 * every PRE_COPY device, so the source never stops the VM before the target is ready.
 */
export interface DeviceInitDoneBody {
  readonly type: "DEVICE_INIT_DONE";
  readonly slot: number;
}

/** End of one precopy iteration, with what it moved (for progress reporting and tuning). */
export interface IterationBody {
  readonly type: "ITERATION";
  /** Iteration number; strictly increasing. */
  readonly iteration: number;
  /** Data pages sent in this iteration. */
  readonly dataPages: number;
  /** Zero pages sent (as markers) in this iteration. */
  readonly zeroPages: number;
  /** Device bytes sent in this iteration. */
  readonly deviceBytes: number;
  /** Dirty pages the sync that ended this iteration found (what the next pass sends). */
  readonly dirtyPages: number;
  /** Wall time of the iteration, in microseconds. */
  readonly durationUs: number;
}

/** The source paused the VM; only stop-copy data follows. */
export interface PrecopyEndBody {
  readonly type: "PRECOPY_END";
}

/** Per-device totals in END. */
export interface DeviceTotals {
  readonly slot: number;
  /** DEVICE_DATA bytes sent for this slot, both phases. */
  readonly bytes: number;
  /** SHA-256 of those bytes in stream order. */
  readonly digest: Uint8Array;
}

/**
 * Last data record. The decoder checks page and byte totals and every device digest
 * against what it saw; the RAM digest is left for the target to check against its RAM.
 */
export interface EndBody {
  readonly type: "END";
  /** Data pages sent in the whole stream (a page re-sent counts again). */
  readonly dataPages: number;
  /** Zero-page markers sent in the whole stream. */
  readonly zeroPages: number;
  /** Page-table digest of guest RAM (docs/stream-format.md §END): SHA-256 of every page's last-sent CRC32C. */
  readonly ramDigest: Uint8Array;
  /** One entry per manifest device, in slot order. */
  readonly devices: readonly DeviceTotals[];
}

/** Source's answer to LOADED: run. */
export interface GoBody {
  readonly type: "GO";
}

/** Source gave up; carries why. */
export interface AbortBody {
  readonly type: "ABORT";
  readonly reason: string;
}

/** Any forward record body (source → target). */
export type ForwardBody =
  | HandshakeBody
  | RamPagesBody
  | DeviceConfigBody
  | DeviceDataBody
  | DeviceInitDoneBody
  | IterationBody
  | PrecopyEndBody
  | EndBody
  | GoBody
  | AbortBody;

/** How long the target took to load one device (RESUMING → STOP). */
export interface DeviceLoadTime {
  /** Manifest slot. */
  readonly slot: number;
  /** Load time, microseconds. */
  readonly loadUs: number;
}

/**
 * The target verified END and loaded every device; it waits for GO. Carries each device's
 * load time so the source's downtime breakdown includes the target's part.
 */
export interface LoadedBody {
  readonly type: "LOADED";
  /** One entry per loaded device, slots strictly increasing. */
  readonly devices: readonly DeviceLoadTime[];
}

/**
 * The target applied every record up to and including ITERATION `iteration` (format
 * version 3): what the source sent in that pass is in guest RAM and the digest table. The
 * source holds the switchover until the last pass is acknowledged, so the paused window
 * never starts with the target still working through a backlog.
 */
export interface IterationAckBody {
  readonly type: "ITERATION_ACK";
  /** The acknowledged ITERATION's number (≥ 1, strictly increasing). */
  readonly iteration: number;
}

/** A return-path message (target → source). */
export type ReturnMessage =
  | { readonly type: "ACCEPT" }
  | { readonly type: "REJECT"; readonly reason: string }
  | { readonly type: "SWITCHOVER_ACK" }
  | LoadedBody
  | { readonly type: "RESUMED" }
  | { readonly type: "FAILED"; readonly reason: string }
  | IterationAckBody;

/** Where a decoded record sat in its stream. */
export interface RecordMeta {
  /** Sequence number (0 for the first record after the header). */
  readonly seq: number;
  /** Byte offset of the record's frame header from the start of the stream. */
  readonly offset: number;
}

/**
 * A decoded forward record. Byte views (`data`, `config`, `compat`, `kinds`) are valid only
 * until the decoder is resumed: copy what you keep.
 */
export type StreamRecord = ForwardBody & RecordMeta;

/** A decoded return-path message. */
export type ReturnRecord = ReturnMessage & RecordMeta;
