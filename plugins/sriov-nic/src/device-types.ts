/**
 * Device types: one VF profile, like an SR-IOV PF exposing one kind of VF. The type
 * fixes what the guest sees (two queue pairs, three MSI-X vectors); rings and rates are
 * guest choices and options.
 */
import type { DeviceTypeInfo } from "@mdevkit/core";

/** The only device type: an 82576-like VF with two queue pairs. */
export const SRIOV_NIC_DEVICE_TYPES: readonly DeviceTypeInfo[] = [
  {
    name: "igbvf-2q",
    description: "82576-like NIC virtual function: 2 queue pairs, RSS, 3 MSI-X vectors, PF mailbox",
  },
];
