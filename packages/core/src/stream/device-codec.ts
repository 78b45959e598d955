import type { ByteCursor } from "./byte-cursor.js";
import {
  type DeviceConfigBody,
  type DeviceDataBody,
  type DeviceInitDoneBody,
  DevicePhase,
} from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/** DEVICE_DATA head: slot(u16) phase(u8) reserved(u8). */
export const DEVICE_DATA_HEAD_LENGTH = 4;

/** DEVICE_INIT_DONE payload: slot(u16) reserved(u16). */
export const DEVICE_INIT_DONE_LENGTH = 4;

/** DEVICE_CONFIG head: slot(u16) reserved(u16). */
export const DEVICE_CONFIG_HEAD_LENGTH = 4;

/** Decodes DEVICE_CONFIG: slot, then the config space bytes (bounded). */
export function decodeDeviceConfig(c: ByteCursor, limits: StreamLimits): DeviceConfigBody {
  const slot = c.u16("slot");
  if (c.u16("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  const config = c.bytes(c.remaining, "config space", limits.maxDeviceConfigLength);
  return { type: "DEVICE_CONFIG", slot, config };
}

/** Decodes DEVICE_DATA: slot, phase, then the device's bytes. Empty chunks are refused. */
export function decodeDeviceData(c: ByteCursor): DeviceDataBody {
  const slot = c.u16("slot");
  const phase = c.u8("phase");
  if (phase !== DevicePhase.PRE_COPY && phase !== DevicePhase.STOP_COPY) {
    throw c.error("EPROTO", "phase", `unknown device phase ${phase}`);
  }
  if (c.u8("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  if (c.remaining === 0)
    throw c.error("EPROTO", "empty-chunk", "a device data chunk must not be empty");
  return { type: "DEVICE_DATA", slot, phase, data: c.bytes(c.remaining, "device data") };
}

/** Decodes DEVICE_INIT_DONE: the slot whose initial precopy data is complete. */
export function decodeDeviceInitDone(c: ByteCursor): DeviceInitDoneBody {
  const slot = c.u16("slot");
  if (c.u16("reserved") !== 0) throw c.error("EPROTO", "reserved", "reserved field must be 0");
  return { type: "DEVICE_INIT_DONE", slot };
}
