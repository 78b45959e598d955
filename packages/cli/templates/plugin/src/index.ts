/**
 * `@mdevkit/plugin-__PLUGIN_NAME__`: an mdevkit vendor plugin.
 *
 * Reading order: device.ts (the device), state-format.ts (the stream), driver.ts (the
 * migration hooks), compatibility.ts, plugin.ts (the manifest).
 */
export { checkCompatible, encodeCompatibility, PLUGIN_NAME } from "./compatibility.js";
export { describeState } from "./describe.js";
export {
  CTRL,
  CTRL_MASK,
  DEVICE_ID,
  type DeviceIo,
  type DeviceState,
  encodeRecord,
  MAX_RING_ENTRIES,
  powerOnState,
  RECORD_BYTES,
  REGISTER_WINDOW,
  Reg,
  recordPayload,
  STATUS,
  STATUS_MASK,
  step,
} from "./device.js";
export { checkDeviceType, DEVICE_TYPES } from "./device-types.js";
export {
  __PascalName__Driver,
  IRQ_VECTOR,
  MIGRATION_FLAGS,
  PCI_DEVICE_ID,
  PCI_VENDOR_ID,
} from "./driver.js";
export { __camelName__Plugin, PLUGIN_VERSION } from "./plugin.js";
export {
  checkIdentity,
  decodeIdentity,
  decodeState,
  encodeIdentity,
  encodeState,
  type Identity,
  identityBytes,
  SECTION_VERSIONS,
  STATE_BYTES,
  STREAM_MAJOR,
  splitImage,
} from "./state-format.js";
