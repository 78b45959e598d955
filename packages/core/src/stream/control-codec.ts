import { MdevError } from "../errors/mdev-error.js";
import { utf8Bytes } from "./byte-builder.js";
import type { ByteCursor } from "./byte-cursor.js";
import { decodeLoaded } from "./loaded-codec.js";
import { decodeIterationAck } from "./progress-codec.js";
import { RecordType } from "./record-type.js";
import type { AbortBody, ReturnMessage } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/** Bytes of a reason string, refused (EINVAL) locally if a decoder would refuse it. */
export function reasonBytes(reason: string, limits: StreamLimits): Uint8Array {
  const b = utf8Bytes(reason);
  if (b.byteLength > limits.maxReasonLength) {
    throw new MdevError(
      "EINVAL",
      `reason of ${b.byteLength} bytes exceeds ${limits.maxReasonLength}`,
    );
  }
  return b;
}

/** Decodes an ABORT payload: a u16-prefixed reason. */
export function decodeAbort(c: ByteCursor, limits: StreamLimits): AbortBody {
  const reason = c.string16("reason", limits.maxReasonLength);
  c.end();
  return { type: "ABORT", reason };
}

/** Decodes a return-path payload for an already-validated `type`. */
export function decodeReturnMessage(
  type: number,
  c: ByteCursor,
  limits: StreamLimits,
): ReturnMessage {
  let msg: ReturnMessage;
  switch (type) {
    case RecordType.ACCEPT:
      msg = { type: "ACCEPT" };
      break;
    case RecordType.SWITCHOVER_ACK:
      msg = { type: "SWITCHOVER_ACK" };
      break;
    case RecordType.LOADED:
      // decodeLoaded checks the payload to its end itself.
      return decodeLoaded(c, limits);
    case RecordType.ITERATION_ACK:
      return decodeIterationAck(c);
    case RecordType.RESUMED:
      msg = { type: "RESUMED" };
      break;
    case RecordType.REJECT:
      msg = { type: "REJECT", reason: c.string16("reason", limits.maxReasonLength) };
      break;
    default:
      msg = { type: "FAILED", reason: c.string16("reason", limits.maxReasonLength) };
  }
  c.end();
  return msg;
}
