/**
 * `@mdevkit/plugin-mtty`: a migratable virtual 16550 serial card modelled on Linux's
 * `samples/vfio-mdev/mtty.c`, and the smallest complete mdevkit plugin.
 *
 * Reading order for plugin authors: uart.ts (the device), migration-format.ts (the
 * stream), config-space.ts, mtty-driver.ts (the hooks), plugin.ts (the manifest).
 */
export { COMPAT_BYTES, checkCompatible, encodeCompatibility } from "./compatibility.js";
export {
  bar0Size,
  buildConfigSpace,
  Cfg,
  MTTY_CLASS_CODE,
  MTTY_DEVICE_ID,
  MTTY_VENDOR_ID,
} from "./config-space.js";
export {
  describeState,
  type MttyDescription,
  mttyInvariants,
  type PortDescription,
} from "./describe.js";
export { MTTY_DEVICE_TYPES, type MttyDeviceType, portCountOf } from "./device-types.js";
export {
  checkHeader,
  decodeStream,
  encodeHeader,
  encodePorts,
  HEADER_BYTES,
  PORT_BYTES,
  STREAM_MAGIC,
  STREAM_MAJOR,
  STREAM_MINOR,
  streamBytes,
} from "./migration-format.js";
export { MTTY_IRQ_VECTOR, MTTY_MIGRATION_FLAGS, MttyDriver } from "./mtty-driver.js";
export { MTTY_PLUGIN_VERSION, mttyPlugin, mttyPlugin as default } from "./plugin.js";
export {
  FCR,
  FIFO_SIZE,
  IER,
  IIR,
  LCR_DLAB,
  LSR,
  MCR,
  PORT_WINDOW,
  type PortState,
  Reg,
  RING_MAX_BYTES,
} from "./uart.js";
export { bytesThisTick, MAX_BYTES_PER_TICK, wireByte } from "./workload.js";
