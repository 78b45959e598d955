/**
 * `@mdevkit/plugin-__PLUGIN_NAME__`: an mdevkit vendor plugin.
 *
 * Reading order: device.ts (the device), guest.ts (its bring-up in a VM), state-format.ts
 * (the stream), driver.ts (the migration hooks), compatibility.ts, capabilities.ts and
 * plugin.ts (the manifest).
 */
export {
  checkDeviceType,
  DEVICE_TYPES,
  MIGRATION_FLAGS,
  PLUGIN_NAME,
  PLUGIN_VERSION,
} from "./capabilities.js";
export { checkCompatible, encodeCompatibility } from "./compatibility.js";
export { describeState } from "./describe.js";
export {
  CTRL,
  CTRL_MASK,
  DEVICE_ID,
  type DeviceIo,
  type DeviceState,
  encodeRecord,
  IRQ_VECTOR,
  MAX_RING_ENTRIES,
  PCI_DEVICE_ID,
  PCI_VENDOR_ID,
  powerOnState,
  RECORD_BYTES,
  REGISTER_WINDOW,
  Reg,
  recordPayload,
  STATUS,
  STATUS_MASK,
  step,
} from "./device.js";
// The plugin's own names stay alone in their export statements: Biome sorts names within
// a statement, and where a generated name falls depends on the plugin's name.
export { __PascalName__Driver } from "./driver.js";
export {
  atPowerOn,
  bringUp,
  GUEST_RING_BASE,
  GUEST_RING_ENTRIES,
  GUEST_SCRATCH,
  type GuestMmio,
} from "./guest.js";
// The plugin is also the default export: what `mdevkit --plugin` loads.
export { __camelName__Plugin, __camelName__Plugin as default } from "./plugin.js";
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
