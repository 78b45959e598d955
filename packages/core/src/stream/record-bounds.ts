import {
  DEVICE_CONFIG_HEAD_LENGTH,
  DEVICE_DATA_HEAD_LENGTH,
  DEVICE_INIT_DONE_LENGTH,
} from "./device-codec.js";
import { endLength } from "./end-codec.js";
import { loadedLength } from "./loaded-codec.js";
import { ITERATION_ACK_LENGTH, ITERATION_LENGTH } from "./progress-codec.js";
import { RAM_RUN_HEAD_LENGTH } from "./ram-pages-codec.js";
import { RecordType } from "./record-type.js";
import type { StreamLimits } from "./stream-limits.js";

/** Smallest and largest payload a record type may declare. */
export interface PayloadBounds {
  readonly min: number;
  readonly max: number;
}

/**
 * Payload bounds per record type, derived from the limits. The decoder checks a frame's
 * declared length against these before it waits for, or allocates, the payload — so a
 * 4 GiB length in a 0-byte record type is refused from its 12-byte frame header alone.
 */
export function payloadBounds(type: number, limits: StreamLimits): PayloadBounds {
  const cap = limits.maxRecordLength;
  const clamp = (min: number, max: number): PayloadBounds => ({ min, max: Math.min(max, cap) });
  switch (type) {
    case RecordType.HANDSHAKE:
      return clamp(
        6,
        6 +
          limits.maxConfigLength +
          limits.maxDevices * (2 + 3 * (1 + limits.maxStringLength) + 4 + limits.maxCompatLength),
      );
    case RecordType.RAM_PAGES:
      return clamp(RAM_RUN_HEAD_LENGTH + 1, cap);
    case RecordType.DEVICE_CONFIG:
      return clamp(
        DEVICE_CONFIG_HEAD_LENGTH,
        DEVICE_CONFIG_HEAD_LENGTH + limits.maxDeviceConfigLength,
      );
    case RecordType.DEVICE_DATA:
      return clamp(DEVICE_DATA_HEAD_LENGTH + 1, cap);
    case RecordType.DEVICE_INIT_DONE:
      return clamp(DEVICE_INIT_DONE_LENGTH, DEVICE_INIT_DONE_LENGTH);
    case RecordType.ITERATION:
      return clamp(ITERATION_LENGTH, ITERATION_LENGTH);
    case RecordType.ITERATION_ACK:
      return clamp(ITERATION_ACK_LENGTH, ITERATION_ACK_LENGTH);
    case RecordType.END:
      return clamp(endLength(0), endLength(limits.maxDevices));
    case RecordType.LOADED:
      return clamp(loadedLength(0), loadedLength(limits.maxDevices));
    case RecordType.ABORT:
    case RecordType.REJECT:
    case RecordType.FAILED:
      return clamp(2, 2 + limits.maxReasonLength);
    default:
      // PRECOPY_END, GO, ACCEPT, SWITCHOVER_ACK, RESUMED carry nothing.
      return { min: 0, max: 0 };
  }
}
