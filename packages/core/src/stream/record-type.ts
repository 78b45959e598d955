import { StreamDirection } from "./format.js";

/**
 * Numeric record types. Forward records (source → target) are below 0x80; return-path
 * messages (target → source) have the high bit set, so a value is never valid both ways.
 */
export const RecordType = {
  /** VM config JSON + device manifest; always the first forward record. */
  HANDSHAKE: 0x01,
  /** A run of guest pages: bitmap of data/zero pages followed by the data pages only. */
  RAM_PAGES: 0x02,
  /** A device's PCI config space, sent once the device is stopped. */
  DEVICE_CONFIG: 0x03,
  /** A chunk of a device's opaque migration data (PRE_COPY or STOP_COPY phase). */
  DEVICE_DATA: 0x04,
  /** End of one precopy iteration, with its statistics. */
  ITERATION: 0x05,
  /** The source paused the VM: what follows is the stop-copy phase. */
  PRECOPY_END: 0x06,
  /** Totals and digests; the target checks them before it reports LOADED. */
  END: 0x07,
  /** Source's answer to LOADED: the target may run the VM; the source never will again. */
  GO: 0x08,
  /** The source gave up; the target must discard what it loaded. */
  ABORT: 0x09,
  /** A device's initial precopy data was all sent (QEMU's DEV_INIT_DATA_SENT); the target acks once it loaded it. */
  DEVICE_INIT_DONE: 0x0a,
  /** Target accepts the handshake. */
  ACCEPT: 0x81,
  /** Target refuses the handshake, with a reason. */
  REJECT: 0x82,
  /** Target loaded every device's initial precopy data (QEMU's switchover-ack). */
  SWITCHOVER_ACK: 0x83,
  /** Target loaded everything and checked END; it waits for GO. */
  LOADED: 0x84,
  /** Target runs the VM. */
  RESUMED: 0x85,
  /** Target failed, with a reason; the source keeps (or resumes) running the VM. */
  FAILED: 0x86,
  /** Target applied every record up to an ITERATION: it caught up with that pass (version 3). */
  ITERATION_ACK: 0x87,
} as const;

/** Name of a record type, e.g. `"RAM_PAGES"`. */
export type RecordTypeName = keyof typeof RecordType;

/** Numeric value of a record type. */
export type RecordTypeValue = (typeof RecordType)[RecordTypeName];

const NAMES = new Map<number, RecordTypeName>(
  (Object.entries(RecordType) as [RecordTypeName, number][]).map(([name, value]) => [value, name]),
);

/** Name of a numeric record type, or `"TYPE_0x.."` when unknown (for error messages only). */
export function recordTypeName(type: number): string {
  return NAMES.get(type) ?? `TYPE_0x${type.toString(16).padStart(2, "0")}`;
}

/** Forward record types of versions 2–5 (version 2 has version 1's records). */
const FORWARD_TYPES = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a];

/** Return-path types of version 2; version 3 adds ITERATION_ACK. */
const RETURN_TYPES_V2 = [0x81, 0x82, 0x83, 0x84, 0x85, 0x86];

/** Record types each format version knows, per direction. Anything else is refused. */
const KNOWN: Record<number, Record<StreamDirection, ReadonlySet<number>>> = {
  2: {
    [StreamDirection.FORWARD]: new Set(FORWARD_TYPES),
    [StreamDirection.RETURN]: new Set(RETURN_TYPES_V2),
  },
  3: {
    [StreamDirection.FORWARD]: new Set(FORWARD_TYPES),
    [StreamDirection.RETURN]: new Set([...RETURN_TYPES_V2, RecordType.ITERATION_ACK]),
  },
  // Version 4 changes what END's RAM digest hashes, not which records exist.
  4: {
    [StreamDirection.FORWARD]: new Set(FORWARD_TYPES),
    [StreamDirection.RETURN]: new Set([...RETURN_TYPES_V2, RecordType.ITERATION_ACK]),
  },
  // Version 5 lets a RAM_PAGES run be sparse (a head flag), with the same records.
  5: {
    [StreamDirection.FORWARD]: new Set(FORWARD_TYPES),
    [StreamDirection.RETURN]: new Set([...RETURN_TYPES_V2, RecordType.ITERATION_ACK]),
  },
};

/** True when `type` is a record type of `version` travelling in `direction`. */
export function isKnownRecordType(
  version: number,
  direction: StreamDirection,
  type: number,
): boolean {
  return KNOWN[version]?.[direction].has(type) ?? false;
}
