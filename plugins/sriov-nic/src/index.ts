/**
 * `@mdevkit/plugin-sriov-nic`: an SR-IOV NIC virtual function (82576-VF-like) with
 * mlx5-style migration — two-phase P2P quiesce, incremental precopy, device DMA logging —
 * and the host-side wire and switch its tests and benchmark drive it with.
 *
 * Reading order: nic-state.ts (the state), nic-device.ts (behaviour), guest-driver.ts (the
 * guest), migration-format.ts (the stream), sriov-nic-driver.ts (the hooks), plugin.ts.
 */

export {
  compatInfoFor,
  DEFAULT_PF_CAPABILITIES,
  incompatibility,
  makeCheckCompatible,
  SRIOV_NIC_PLUGIN_NAME,
} from "./compatibility.js";
export { buildConfigSpace, Cfg, VF_CLASS_CODE } from "./config-space.js";
export { describeNicState, describeState, nicInvariants } from "./describe.js";
export { SRIOV_NIC_DEVICE_TYPES } from "./device-types.js";
export * from "./frame.js";
export {
  BUFFER_BYTES,
  decodeGuestControl,
  GUEST_GROUPS,
  GUEST_STATS,
  GuestDriver,
  type GuestIo,
  GuestLayout,
  type GuestTrace,
  type GuestView,
} from "./guest-driver.js";
export * from "./migration-format.js";
export { draw } from "./mix.js";
export {
  type DeviceIo,
  NicDevice,
  type NicDeviceOptions,
  type NicTrace,
  type NicWire,
  type RxOutcome,
  RxStatus,
  TX_BURST,
  TX_DD,
  TxCmd,
} from "./nic-device.js";
export * from "./nic-state.js";
export { defaultMac, type NicOptions, nicOptionsSchema, parseNicOptions } from "./options.js";
export { checkPfPolicy, type PfCapabilities, type PfPolicy } from "./pf-policy.js";
export {
  createSriovNicPlugin,
  SRIOV_NIC_PLUGIN_VERSION,
  type SriovNicPluginOptions,
  sriovNicPlugin,
  sriovNicPlugin as default,
} from "./plugin.js";
export { type NicProfile, PROFILE_NAMES, PROFILES, type ProfileName } from "./profile.js";
export * from "./regs.js";
export {
  MAX_STREAM_BYTES,
  SRIOV_NIC_MIGRATION_FLAGS,
  SriovNicDriver,
  type StandaloneWire,
} from "./sriov-nic-driver.js";
export { type FiveTuple, MS_RSS_KEY, rssInput, toeplitz } from "./toeplitz.js";
export { type AnnounceParams, Announcer, DEFAULT_ANNOUNCE, rarpFrame } from "./wire/announce.js";
export {
  type BlackoutDrop,
  type PortCounters,
  type PortEndpoint,
  SimulatedSwitch,
  type SimulatedSwitchOptions,
  type SinkRecord,
  SwitchPort,
} from "./wire/simulated-switch.js";
export {
  FLOW_COUNT,
  type Flow,
  MULTICAST_FLOWS,
  TrafficGenerator,
  VLAN_FLOWS,
} from "./wire/traffic-generator.js";
