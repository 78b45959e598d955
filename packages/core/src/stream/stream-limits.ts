import { z } from "zod";
import { MdevError } from "../errors/mdev-error.js";
import { FRAME_HEADER_LENGTH, FRAME_TRAILER_LENGTH } from "./format.js";

/**
 * Bounds the decoder enforces before it allocates or trusts anything. The defaults are
 * generous for real VMs and small enough that a hostile peer cannot make a target
 * allocate more than one record's worth of memory at a time.
 */
export interface StreamLimits {
  /** Largest payload of any record, in bytes. */
  readonly maxRecordLength: number;
  /** Largest number of pages one RAM_PAGES record may describe (data and zero pages). */
  readonly maxPagesPerRun: number;
  /** Largest VM config JSON in HANDSHAKE. */
  readonly maxConfigLength: number;
  /** Most devices a manifest may list. */
  readonly maxDevices: number;
  /** Longest string field (plugin name, version, device type), in bytes. */
  readonly maxStringLength: number;
  /** Largest compatibility blob per device. */
  readonly maxCompatLength: number;
  /** Largest config space of one device (PCIe extended config space is 4 KiB). */
  readonly maxDeviceConfigLength: number;
  /** Longest REJECT/FAILED/ABORT reason, in bytes. */
  readonly maxReasonLength: number;
  /** Most return-path messages a reader queues before it calls the peer hostile. */
  readonly maxQueuedMessages: number;
}

/** Default {@link StreamLimits}: 8 MiB records, 64 Ki pages per run, 64 devices. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = Object.freeze({
  maxRecordLength: 8 * 1024 * 1024 + 64 * 1024,
  maxPagesPerRun: 65_536,
  maxConfigLength: 1024 * 1024,
  maxDevices: 64,
  maxStringLength: 255,
  maxCompatLength: 64 * 1024,
  maxDeviceConfigLength: 4096,
  maxReasonLength: 1024,
  maxQueuedMessages: 1024,
});

const positive = (max: number) => z.number().int().min(1).max(max);

/** zod schema of a partial limits override, so a config file cannot disable a bound. */
export const streamLimitsSchema = z
  .object({
    // The frame length field is a u32, and one record must fit in one allocation.
    maxRecordLength: positive(0xffff_ffff - FRAME_HEADER_LENGTH - FRAME_TRAILER_LENGTH),
    maxPagesPerRun: positive(1 << 24),
    maxConfigLength: positive(0xffff_ffff),
    maxDevices: positive(0xffff),
    maxStringLength: positive(255),
    maxCompatLength: positive(0xffff_ffff),
    maxDeviceConfigLength: positive(0xffff_ffff),
    maxReasonLength: positive(0xffff),
    maxQueuedMessages: positive(1 << 20),
  })
  .partial();

/** Merges an override into the defaults after validating it; nonsense is EINVAL. */
export function resolveStreamLimits(overrides: Partial<StreamLimits> = {}): StreamLimits {
  const parsed = streamLimitsSchema.safeParse(overrides);
  if (!parsed.success) {
    throw new MdevError("EINVAL", `invalid stream limits: ${z.prettifyError(parsed.error)}`);
  }
  return Object.freeze({ ...DEFAULT_STREAM_LIMITS, ...parsed.data });
}
