/**
 * The VF's architectural state: what the guest programmed and what the device keeps,
 * field for field what the stream carries (see migration-format.ts). Host-side things —
 * the wire, the PF's own schedule, gathered TX bytes — live elsewhere.
 */
import { MBX_WORDS, RETA_ENTRIES, RSS_KEY_BYTES, VF_MSIX_VECTORS } from "./regs.js";
import { MS_RSS_KEY } from "./toeplitz.js";

/** One RX ring (RDBAL/H, RDLEN, RDH, RDT, RXDCTL, SRRCTL, RQDPC). */
export interface RxQueue {
  /** Ring base, guest-physical (RDBAH:RDBAL). */
  baseGpa: number;
  /** Ring length in bytes (RDLEN; a multiple of 128). */
  lenBytes: number;
  head: number;
  tail: number;
  /** RXDCTL.ENABLE. */
  enabled: boolean;
  /** SRRCTL as written (buffer size in 1 KiB units in bits 6:0). */
  srrctl: number;
  /** Packets dropped for want of a descriptor (RQDPC). */
  rqdpc: number;
}

/** How a packet caught half-gathered at STOP is resolved. */
export type PartialPolicy = "drop" | "refetch";

/**
 * A TX packet whose first descriptors were fetched but whose EOP was not, when the
 * initiator was suspended. Only `policy: "drop"` survives a stop (igb's `skip_cp`): its
 * remaining descriptors complete without transmitting.
 */
export interface PartialPacket {
  /** Ring index of the packet's first descriptor. */
  firstDesc: number;
  /** Descriptors fetched so far. */
  descs: number;
  /** Bytes gathered so far. */
  bytes: number;
  /** `gathering` while running; `drop` once the stop decided to drop it. */
  policy: "gathering" | "drop";
}

/** One TX ring (TDBAL/H, TDLEN, TDH, TDT, TXDCTL, TDWBAL/H) and its gather state. */
export interface TxQueue {
  baseGpa: number;
  lenBytes: number;
  head: number;
  tail: number;
  enabled: boolean;
  /** TDWBAH:TDWBAL as written; bit 0 enables head write-back. */
  headWb: number;
  /** Two advanced context descriptors, 4 words each (VLAN/MAC/IP lens, seqnum, tucmd, mss). */
  ctx: [Uint32Array, Uint32Array];
  partial: PartialPacket | null;
}

/** RX filters the VF asked the PF for (MAC, multicast hash list, VLAN table, promiscuity). */
export interface Filters {
  /** Unicast MAC, a 48-bit integer (byte 0 in the most significant position). */
  mac: number;
  /** 12-bit multicast table hashes (≤ 30, as the VF sent them). */
  mcHashes: number[];
  /** VLAN filter table: 4096 bits. */
  vlans: Uint8Array;
  promiscUc: boolean;
  promiscMc: boolean;
}

/** RSS configuration: key, redirection table, MRQC. */
export interface Rss {
  key: Uint8Array;
  /** Queue index per entry (0 or 1). */
  reta: Uint8Array;
  /** MRQC: bit 0 enables RSS; hash fields in bits 16+. */
  mrqc: number;
}

/** Interrupt registers and throttling state (vectors 0 = queue 0, 1 = queue 1, 2 = mailbox). */
export interface Irq {
  eicr: number;
  eims: number;
  eiac: number;
  eiam: number;
  /** Minimum ticks between two MSIs of a vector. */
  eitr: number[];
  ivar0: number;
  ivarMisc: number;
  /** Device tick of each vector's last MSI (-1: never). */
  lastMsi: number[];
  /** Vectors whose cause is waiting for its throttle window: they fire exactly once, later. */
  pending: number;
}

/** Statistics (64-bit inside; the guest reads the low 32 bits and accumulates deltas). */
export interface Stats {
  gprc: number;
  gptc: number;
  gorc: number;
  gotc: number;
  mprc: number;
  gprlbc: number;
  gptlbc: number;
  gorlbc: number;
  gotlbc: number;
}

/** Stat names in stream order. */
export const STAT_NAMES: readonly (keyof Stats)[] = [
  "gprc",
  "gptc",
  "gorc",
  "gotc",
  "mprc",
  "gprlbc",
  "gptlbc",
  "gorlbc",
  "gotlbc",
];

/** Which side of the PF↔VF mailbox holds an unfinished message. */
export type MailboxInFlight = "none" | "vf-to-pf" | "pf-to-vf";

/** The mailbox: control bits, 16 memory words, and which message is in flight. */
export interface Mailbox {
  /** V2PMAILBOX bits. */
  ctrl: number;
  mem: Uint32Array;
  inFlight: MailboxInFlight;
  /**
   * Device tick at which the pending VF→PF request was posted (0 when none): the PF
   * answers relative to it, so a PF on the target answers when the source's would have.
   */
  reqTick: number;
}

/** Link as the VF reports it in STATUS. */
export interface Link {
  up: boolean;
  speedMbps: number;
}

/** The whole VF. */
export interface NicState {
  /** Device ticks since power-on: the clock of throttling and of the PF's mailbox schedule. */
  now: number;
  ctrl: number;
  rx: [RxQueue, RxQueue];
  tx: [TxQueue, TxQueue];
  filters: Filters;
  rss: Rss;
  irq: Irq;
  stats: Stats;
  mailbox: Mailbox;
  link: Link;
}

function rxQueue(): RxQueue {
  return { baseGpa: 0, lenBytes: 0, head: 0, tail: 0, enabled: false, srrctl: 2, rqdpc: 0 };
}

function txQueue(): TxQueue {
  return {
    baseGpa: 0,
    lenBytes: 0,
    head: 0,
    tail: 0,
    enabled: false,
    headWb: 0,
    ctx: [new Uint32Array(4), new Uint32Array(4)],
    partial: null,
  };
}

/** Power-on state of a VF whose PF assigned it `mac`. */
export function powerOnState(mac: number): NicState {
  const reta = new Uint8Array(RETA_ENTRIES);
  for (let i = 0; i < RETA_ENTRIES; i++) reta[i] = i & 1;
  return {
    now: 0,
    ctrl: 0,
    rx: [rxQueue(), rxQueue()],
    tx: [txQueue(), txQueue()],
    filters: {
      mac,
      mcHashes: [],
      vlans: new Uint8Array(512),
      promiscUc: false,
      promiscMc: false,
    },
    rss: { key: MS_RSS_KEY.slice(0, RSS_KEY_BYTES), reta, mrqc: 0 },
    irq: {
      eicr: 0,
      eims: 0,
      eiac: 0,
      eiam: 0,
      eitr: new Array<number>(VF_MSIX_VECTORS).fill(0),
      ivar0: 0,
      ivarMisc: 0,
      lastMsi: new Array<number>(VF_MSIX_VECTORS).fill(-1),
      pending: 0,
    },
    stats: {
      gprc: 0,
      gptc: 0,
      gorc: 0,
      gotc: 0,
      mprc: 0,
      gprlbc: 0,
      gptlbc: 0,
      gorlbc: 0,
      gotlbc: 0,
    },
    mailbox: { ctrl: 0, mem: new Uint32Array(MBX_WORDS), inFlight: "none", reqTick: 0 },
    link: { up: true, speedMbps: 1000 },
  };
}

/** A deep copy (typed arrays copied), for snapshots and all-or-nothing loads. */
export function cloneState(s: NicState): NicState {
  return {
    ...s,
    rx: [{ ...s.rx[0] }, { ...s.rx[1] }],
    tx: [cloneTx(s.tx[0]), cloneTx(s.tx[1])],
    filters: { ...s.filters, mcHashes: [...s.filters.mcHashes], vlans: s.filters.vlans.slice() },
    rss: { ...s.rss, key: s.rss.key.slice(), reta: s.rss.reta.slice() },
    irq: { ...s.irq, eitr: [...s.irq.eitr], lastMsi: [...s.irq.lastMsi] },
    stats: { ...s.stats },
    mailbox: { ...s.mailbox, mem: s.mailbox.mem.slice() },
    link: { ...s.link },
  };
}

function cloneTx(q: TxQueue): TxQueue {
  return {
    ...q,
    ctx: [q.ctx[0].slice(), q.ctx[1].slice()],
    partial: q.partial === null ? null : { ...q.partial },
  };
}

/** Descriptors in a ring of `lenBytes` (0 when the ring is not set up). */
export function ringDescs(lenBytes: number): number {
  return Math.floor(lenBytes / 16);
}

/** The 12-bit multicast table hash of a MAC (82576 MTA, filter type 0: bits 47:36). */
export function mcHash(mac: number): number {
  const b4 = Math.floor(mac / 2 ** 8) & 0xff;
  const b5 = mac & 0xff;
  return ((b4 >> 4) | (b5 << 4)) & 0xfff;
}

/** Whether the VLAN filter table has `vid`. */
export function hasVlan(vlans: Uint8Array, vid: number): boolean {
  return ((vlans[vid >> 3]! >> (vid & 7)) & 1) === 1;
}
