/**
 * The VF's BAR0 register map: the 82576 VF offsets (Linux `igbvf/regs.h`, QEMU
 * `igbvf.c`), plus an RSS key and redirection table at iavf-style VF offsets (the
 * 82576 VF has no RSS of its own; ixgbevf and iavf VFs do).
 */

/** PCI identity of the 82576 virtual function. */
export const VF_VENDOR_ID = 0x8086;
/** Device id of the 82576 VF (`E1000_DEV_ID_82576_VF`). */
export const VF_DEVICE_ID = 0x10ca;
/** BAR0 (MMIO) size: `IGBVF_MMIO_SIZE`. */
export const VF_MMIO_SIZE = 16 * 1024;
/** MSI-X vectors: queue 0, queue 1, mailbox/misc (`IGBVF_MSIX_VEC_NUM`). */
export const VF_MSIX_VECTORS = 3;
/** Queue pairs of one VF (the PF's queues n and n + 8). */
export const VF_QUEUE_PAIRS = 2;
/** The mailbox/misc vector. */
export const MBX_VECTOR = 2;
/** RSS key bytes (RSSRK: 10 registers). */
export const RSS_KEY_BYTES = 40;
/** Redirection table entries. */
export const RETA_ENTRIES = 64;
/** Mailbox memory words (`VMBMEM`, 64 bytes). */
export const MBX_WORDS = 16;
/** Entries of a SET_MULTICAST list (ixgbe's limit). */
export const MAX_MC_ENTRIES = 30;
/** Interrupt-throttle interval limit, ticks (keeps a guest from stalling interrupts forever). */
export const MAX_EITR_TICKS = 1000;

/** Register offsets. */
export const Reg = {
  CTRL: 0x0000,
  STATUS: 0x0008,
  VMBMEM: 0x0800,
  V2PMAILBOX: 0x0c40,
  VFGPRC: 0x0f10,
  VFGPTC: 0x0f14,
  VFGORC: 0x0f18,
  VFGOTC: 0x0f34,
  VFMPRC: 0x0f3c,
  VFGPRLBC: 0x0f40,
  VFGPTLBC: 0x0f44,
  VFGORLBC: 0x0f48,
  VFGOTLBC: 0x0f50,
  EICS: 0x1520,
  EIMS: 0x1524,
  EIMC: 0x1528,
  EIAC: 0x152c,
  EIAM: 0x1530,
  EICR: 0x1580,
  EITR0: 0x1680,
  IVAR0: 0x1700,
  IVAR_MISC: 0x1740,
  RDBAL0: 0x2800,
  RDBAH0: 0x2804,
  RDLEN0: 0x2808,
  SRRCTL0: 0x280c,
  RDH0: 0x2810,
  RDT0: 0x2818,
  RXDCTL0: 0x2828,
  TDBAL0: 0x3800,
  TDBAH0: 0x3804,
  TDLEN0: 0x3808,
  TDH0: 0x3810,
  TDT0: 0x3818,
  TXDCTL0: 0x3828,
  TDWBAL0: 0x3838,
  TDWBAH0: 0x383c,
  RETA0: 0x5000,
  RSSRK0: 0x5100,
  MRQC: 0x5128,
} as const;

/** Stride between queue 0's and queue 1's RX/TX register blocks. */
export const QUEUE_STRIDE = 0x100;

/** STATUS bits. */
export const STATUS_LU = 1 << 1;
/** STATUS speed field value for 1000 Mb/s (bits 7:6 = 10b). */
export const STATUS_SPEED_1000 = 2 << 6;

/** RXDCTL/TXDCTL queue enable. */
export const QUEUE_ENABLE = 1 << 25;
/** TDWBAL bit 0: head write-back enabled. */
export const TDWBAL_ENABLE = 1;

/** V2PMAILBOX bits (ixgbevf `IXGBE_VFMAILBOX_*`). */
export const Mbx = {
  REQ: 1 << 0,
  ACK: 1 << 1,
  VFU: 1 << 2,
  PFU: 1 << 3,
  PFSTS: 1 << 4,
  PFACK: 1 << 5,
  RSTI: 1 << 6,
  RSTD: 1 << 7,
} as const;

/** Mailbox message types (low 16 bits of word 0, ixgbe/igb `E1000_VF_*`). */
export const MbxMsg = {
  RESET: 0x01,
  SET_MAC_ADDR: 0x02,
  SET_MULTICAST: 0x03,
  SET_VLAN: 0x04,
  SET_LPE: 0x05,
  API_NEGOTIATE: 0x08,
  GET_QUEUES: 0x09,
} as const;

/** Reply flags in word 0 (`E1000_VT_MSGTYPE_*`). */
export const MSGTYPE_ACK = 0x8000_0000;
/** Negative acknowledgement. */
export const MSGTYPE_NACK = 0x4000_0000;
/** Clear-to-send: the PF has the VF's reset done. */
export const MSGTYPE_CTS = 0x2000_0000;
/** Bits 16–23 of word 0: the guest's message sequence number (an mdevkit convention, for tracing). */
export const MSG_ID_SHIFT = 16;

/** Mailbox API revision this VF speaks (ixgbe_mbox_api_13 style numbering). */
export const MBX_API = 0x13;

/** Optional VF features, as compatibility bits. */
export const Feature = {
  RSS: 1 << 0,
  HEAD_WRITEBACK: 1 << 1,
  MULTICAST: 1 << 2,
  VLAN_FILTER: 1 << 3,
  EITR: 1 << 4,
} as const;
/** Every feature this build implements. */
export const ALL_FEATURES =
  Feature.RSS | Feature.HEAD_WRITEBACK | Feature.MULTICAST | Feature.VLAN_FILTER | Feature.EITR;
