import { MdevError } from "../errors/mdev-error.js";
import type { ByteBuilder } from "./byte-builder.js";
import type { ByteCursor } from "./byte-cursor.js";
import type { DeviceLoadTime, LoadedBody } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/** One LOADED entry: slot(u16) reserved(u16) loadUs(u64). */
export const LOADED_ENTRY_LENGTH = 12;

/** LOADED payload length for `devices` entries: deviceCount(u16) then the entries. */
export function loadedLength(devices: number): number {
  return 2 + devices * LOADED_ENTRY_LENGTH;
}

/**
 * Checks LOADED entries before they are framed (EINVAL): at most `maxDevices`, slots strictly
 * increasing u16 values, load times safe non-negative integers of microseconds.
 */
export function checkLoaded(devices: readonly DeviceLoadTime[], limits: StreamLimits): void {
  if (devices.length > limits.maxDevices)
    throw new MdevError(
      "EINVAL",
      `LOADED lists ${devices.length} devices, above ${limits.maxDevices}`,
    );
  let last = -1;
  for (const d of devices) {
    if (!Number.isInteger(d.slot) || d.slot <= last || d.slot > 0xffff)
      throw new MdevError("EINVAL", `LOADED slot ${d.slot} is not a u16 above the previous slot`);
    if (!Number.isSafeInteger(d.loadUs) || d.loadUs < 0)
      throw new MdevError("EINVAL", `LOADED load time ${d.loadUs} µs is not a safe integer ≥ 0`);
    last = d.slot;
  }
}

/** Writes a LOADED payload (entries already checked). */
export function fillLoaded(b: ByteBuilder, body: LoadedBody): void {
  b.u16(body.devices.length);
  for (const d of body.devices) b.u16(d.slot).u16(0).u64(d.loadUs);
}

/**
 * Decodes a LOADED payload: the count must match the payload length exactly and stay
 * within `maxDevices`, slots strictly increase (so each appears once), reserved fields are 0.
 */
export function decodeLoaded(c: ByteCursor, limits: StreamLimits): LoadedBody {
  const count = c.u16("device count");
  if (count > limits.maxDevices)
    throw c.error("E2BIG", "devices-limit", `${count} devices exceed ${limits.maxDevices}`);
  if (c.remaining !== count * LOADED_ENTRY_LENGTH)
    throw c.error(
      "EBADMSG",
      "count-length",
      `${count} devices need ${count * LOADED_ENTRY_LENGTH} bytes, ${c.remaining} follow`,
    );
  const devices: DeviceLoadTime[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    const slot = c.u16("slot");
    if (slot <= last)
      throw c.error("EPROTO", "slot-order", `slot ${slot} does not follow slot ${last}`);
    if (c.u16("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
    devices.push({ slot, loadUs: c.u64("load time") });
    last = slot;
  }
  c.end();
  return { type: "LOADED", devices };
}
