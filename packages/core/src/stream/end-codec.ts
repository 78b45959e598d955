import type { ByteBuilder } from "./byte-builder.js";
import type { ByteCursor } from "./byte-cursor.js";
import { DIGEST_LENGTH } from "./format.js";
import type { DeviceTotals, EndBody } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/** Digest algorithm id in END: 1 = SHA-256 (the only one defined). */
export const DIGEST_SHA256 = 1;

/** Payload length of an END with `devices` entries. */
export function endLength(devices: number): number {
  return 8 + 8 + 1 + 1 + DIGEST_LENGTH + 2 + devices * (2 + 8 + DIGEST_LENGTH);
}

/** Writes an END payload. */
export function fillEnd(b: ByteBuilder, body: EndBody): void {
  b.u64(body.dataPages).u64(body.zeroPages).u8(DIGEST_SHA256).u8(0).raw(body.ramDigest);
  b.u16(body.devices.length);
  for (const d of body.devices) b.u16(d.slot).u64(d.bytes).raw(d.digest);
}

/** Decodes an END payload; totals are compared with what was seen by the decoder's rules. */
export function decodeEnd(c: ByteCursor, limits: StreamLimits): EndBody {
  const dataPages = c.u64("data pages");
  const zeroPages = c.u64("zero pages");
  const algorithm = c.u8("digest algorithm");
  if (algorithm !== DIGEST_SHA256)
    throw c.error("EPROTO", "digest-algorithm", `unknown digest algorithm ${algorithm}`);
  if (c.u8("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  const ramDigest = c.bytes(DIGEST_LENGTH, "RAM digest");
  const count = c.u16("device count");
  if (count > limits.maxDevices)
    throw c.error("E2BIG", "device-count", `${count} devices exceed ${limits.maxDevices}`);
  const devices: DeviceTotals[] = [];
  for (let i = 0; i < count; i++) {
    devices.push({
      slot: c.u16("slot"),
      bytes: c.u64("device bytes"),
      digest: c.bytes(DIGEST_LENGTH, "device digest"),
    });
  }
  c.end();
  return { type: "END", dataPages, zeroPages, ramDigest, devices };
}
