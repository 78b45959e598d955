/**
 * The VF's behaviour: register file, RX and TX engines, interrupt moderation and the
 * PF side of the mailbox. Pure model code: it reaches guest memory, interrupts and the
 * wire only through the {@link DeviceIo} and {@link NicWire} it is given, so the driver
 * can gate all of them on its run state and tests can run it against fakes.
 */
import { MdevError } from "@mdevkit/core";
import { buildFrame, frameMacs, isMulticast, readMarker, type WireFrame } from "./frame.js";
import { draw } from "./mix.js";
import {
  hasVlan,
  type Irq,
  mcHash,
  type NicState,
  type PartialPolicy,
  ringDescs,
} from "./nic-state.js";
import { pfServeRequest } from "./pf-mailbox.js";
import type { PfCapabilities, PfPolicy } from "./pf-policy.js";
import { queueOf, readQueueReg, writeQueueReg } from "./queue-registers.js";
import {
  MAX_EITR_TICKS,
  MBX_WORDS,
  Mbx,
  MSG_ID_SHIFT,
  RETA_ENTRIES,
  Reg,
  RSS_KEY_BYTES,
  STATUS_LU,
  STATUS_SPEED_1000,
  TDWBAL_ENABLE,
  VF_MSIX_VECTORS,
} from "./regs.js";
import { rssInput, toeplitz } from "./toeplitz.js";

/** Guest memory and interrupts as the device reaches them (the driver gates them). */
export interface DeviceIo {
  /** DMA read; `undefined` on an IOMMU fault. */
  dmaRead(iova: number, length: number): Uint8Array | undefined;
  /** DMA write; false on an IOMMU fault. */
  dmaWrite(iova: number, data: Uint8Array): boolean;
  /** Sends MSI-X vector `vector`. */
  raise(vector: number): void;
}

/** Where transmitted frames go (the switch port, or a standalone sink). */
export interface NicWire {
  /** A frame the VF put on the wire, whole. */
  transmit(bytes: Uint8Array): void;
}

/** Host-side observer of the device: test and bench tracing, never state. */
export interface NicTrace {
  /** A packet was written to RX descriptor `index` of `queue`. */
  rxWriteback?(queue: number, index: number, seq: number, rssHash: number): void;
  /** A whole frame left on `queue`. */
  txEmitted?(queue: number, seq: number | undefined, bytes: number): void;
  /**
   * A partially gathered packet was resolved at a stop (dropped, or rewound to refetch).
   * `seq` is its marker's when the fetched descriptors hold it, and undefined when they do
   * not (a short packet split in two carries its marker across both halves);
   * `firstDesc` is the packet's first descriptor, which identifies it either way.
   */
  txPartial?(
    queue: number,
    seq: number | undefined,
    outcome: PartialPolicy,
    firstDesc: number,
  ): void;
  /** The remaining descriptors of a dropped packet completed without transmitting. */
  txSkipped?(queue: number, firstDesc: number): void;
  /** The PF handled mailbox request `id` of `type`. */
  mailboxHandled?(id: number, type: number, acked: boolean): void;
  /** MSI-X vector sent. */
  msi?(vector: number): void;
}

/** What happened to one frame offered to the VF. */
export type RxOutcome = "delivered" | "no-desc" | "filtered" | "fault";

/** Bits of a TX descriptor's cmd_type_len. */
export const TxCmd = {
  EOP: 1 << 24,
  IFCS: 1 << 25,
  RS: 1 << 27,
  DEXT: 1 << 29,
  DTYP_SHIFT: 20,
  DTYP_DATA: 3,
  DTYP_CONTEXT: 2,
} as const;
/** DD bit of a TX write-back (olinfo_status bit 0). */
export const TX_DD = 1;
/** RX write-back status bits. */
export const RxStatus = { DD: 1, EOP: 2, VP: 8 } as const;
/** Most TX descriptors fetched per queue per tick. */
export const TX_BURST = 16;

/** Device-side options. */
export interface NicDeviceOptions {
  /** Seed of the PF's mailbox schedule. */
  readonly seed: number;
  /** How a half-gathered TX packet is resolved when the initiator is suspended. */
  readonly partialPolicy: PartialPolicy;
  readonly pf: PfPolicy;
  readonly caps: PfCapabilities;
}

function u32(v: number): number {
  return v >>> 0;
}

/** One virtual function. */
export class NicDevice {
  /** The architectural state (replaced wholesale by a load). */
  state: NicState;
  readonly #io: DeviceIo;
  readonly #options: NicDeviceOptions;
  /** Bytes gathered per TX queue for the packet in progress (host-side, never saved). */
  readonly #gathered: Uint8Array[][] = [[], []];
  /** Whether a DD was already written for the packet in progress (then it cannot be refetched). */
  readonly #partialDd = [false, false];
  /** Device tick at which the PF answers the pending request (PF-side, never saved). */
  #mbxDue: number | undefined;
  #initiatorSuspended = false;
  wire: NicWire | undefined;
  trace: NicTrace = {};

  constructor(state: NicState, io: DeviceIo, options: NicDeviceOptions) {
    this.state = state;
    this.#io = io;
    this.#options = options;
  }

  /** Whether the device may start DMA of its own (TX fetch); false from RUNNING_P2P on. */
  get initiating(): boolean {
    return !this.#initiatorSuspended;
  }

  // ---- registers ----

  /** A guest read of the register at `offset` (a u32). @throws MdevError EINVAL off the map. */
  readReg(offset: number): number {
    const s = this.state;
    const q = queueOf(offset);
    if (q !== undefined) return readQueueReg(this.state, q.queue, q.reg, q.tx);
    if (offset >= Reg.VMBMEM && offset < Reg.VMBMEM + MBX_WORDS * 4 && offset % 4 === 0)
      return s.mailbox.mem[(offset - Reg.VMBMEM) / 4]!;
    if (offset >= Reg.EITR0 && offset < Reg.EITR0 + VF_MSIX_VECTORS * 4 && offset % 4 === 0)
      return s.irq.eitr[(offset - Reg.EITR0) / 4]!;
    if (offset >= Reg.RETA0 && offset < Reg.RETA0 + RETA_ENTRIES && offset % 4 === 0) {
      const i = offset - Reg.RETA0;
      return u32(
        s.rss.reta[i]! |
          (s.rss.reta[i + 1]! << 8) |
          (s.rss.reta[i + 2]! << 16) |
          (s.rss.reta[i + 3]! << 24),
      );
    }
    if (offset >= Reg.RSSRK0 && offset < Reg.RSSRK0 + RSS_KEY_BYTES && offset % 4 === 0) {
      const i = offset - Reg.RSSRK0;
      const k = s.rss.key;
      return u32(k[i]! | (k[i + 1]! << 8) | (k[i + 2]! << 16) | (k[i + 3]! << 24));
    }
    switch (offset) {
      case Reg.CTRL:
        return s.ctrl;
      case Reg.STATUS:
        return s.link.up ? STATUS_LU | STATUS_SPEED_1000 : 0;
      case Reg.V2PMAILBOX:
        return s.mailbox.ctrl;
      case Reg.EIMS:
        return s.irq.eims;
      case Reg.EIAC:
        return s.irq.eiac;
      case Reg.EIAM:
        return s.irq.eiam;
      case Reg.EICR: {
        // Read-to-clear, as on the 82576.
        const v = s.irq.eicr;
        s.irq.eicr = 0;
        return v;
      }
      case Reg.IVAR0:
        return s.irq.ivar0;
      case Reg.IVAR_MISC:
        return s.irq.ivarMisc;
      case Reg.MRQC:
        return s.rss.mrqc;
      case Reg.VFGPRC:
        return u32(s.stats.gprc);
      case Reg.VFGPTC:
        return u32(s.stats.gptc);
      case Reg.VFGORC:
        return u32(s.stats.gorc);
      case Reg.VFGOTC:
        return u32(s.stats.gotc);
      case Reg.VFMPRC:
        return u32(s.stats.mprc);
      case Reg.VFGPRLBC:
        return u32(s.stats.gprlbc);
      case Reg.VFGPTLBC:
        return u32(s.stats.gptlbc);
      case Reg.VFGORLBC:
        return u32(s.stats.gorlbc);
      case Reg.VFGOTLBC:
        return u32(s.stats.gotlbc);
      default:
        throw new MdevError(
          "EINVAL",
          `sriov-nic: no register at BAR0 offset 0x${offset.toString(16)}`,
        );
    }
  }

  /** A guest write of `value` to the register at `offset`. @throws MdevError EINVAL off the map. */
  writeReg(offset: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
      throw new MdevError("EINVAL", `sriov-nic: register value ${value} is not a u32`);
    const s = this.state;
    const q = queueOf(offset);
    if (q !== undefined) {
      writeQueueReg(this.state, q.queue, q.reg, q.tx, value);
      return;
    }
    if (offset >= Reg.VMBMEM && offset < Reg.VMBMEM + MBX_WORDS * 4 && offset % 4 === 0) {
      s.mailbox.mem[(offset - Reg.VMBMEM) / 4] = value;
      return;
    }
    if (offset >= Reg.EITR0 && offset < Reg.EITR0 + VF_MSIX_VECTORS * 4 && offset % 4 === 0) {
      s.irq.eitr[(offset - Reg.EITR0) / 4] = Math.min(value, MAX_EITR_TICKS);
      return;
    }
    if (offset >= Reg.RETA0 && offset < Reg.RETA0 + RETA_ENTRIES && offset % 4 === 0) {
      // Each byte is one entry; only queue indexes this VF has are kept.
      for (let b = 0; b < 4; b++) s.rss.reta[offset - Reg.RETA0 + b] = (value >>> (8 * b)) & 1;
      return;
    }
    if (offset >= Reg.RSSRK0 && offset < Reg.RSSRK0 + RSS_KEY_BYTES && offset % 4 === 0) {
      for (let b = 0; b < 4; b++) s.rss.key[offset - Reg.RSSRK0 + b] = (value >>> (8 * b)) & 0xff;
      return;
    }
    switch (offset) {
      case Reg.CTRL:
        s.ctrl = value;
        return;
      case Reg.STATUS:
        return; // read-only
      case Reg.V2PMAILBOX:
        this.#writeMailboxCtrl(value);
        return;
      case Reg.EICS:
        for (let v = 0; v < VF_MSIX_VECTORS; v++) if (value & (1 << v)) this.#cause(v);
        return;
      case Reg.EIMS: {
        s.irq.eims = (s.irq.eims | value) & vectorMask();
        // Unmasking a vector whose cause is pending delivers it now.
        for (let v = 0; v < VF_MSIX_VECTORS; v++)
          if (value & s.irq.eicr & (1 << v)) this.#tryFire(v);
        return;
      }
      case Reg.EIMC:
        s.irq.eims &= ~value & vectorMask();
        return;
      case Reg.EIAC:
        s.irq.eiac = value & vectorMask();
        return;
      case Reg.EIAM:
        s.irq.eiam = value & vectorMask();
        return;
      case Reg.EICR:
        s.irq.eicr &= ~value; // write-1-to-clear
        return;
      case Reg.IVAR0:
        s.irq.ivar0 = value;
        return;
      case Reg.IVAR_MISC:
        s.irq.ivarMisc = value & 0xff;
        return;
      case Reg.MRQC:
        s.rss.mrqc = value;
        return;
      default:
        if (statOffset(offset)) return; // statistics are read-only
        throw new MdevError(
          "EINVAL",
          `sriov-nic: no register at BAR0 offset 0x${offset.toString(16)}`,
        );
    }
  }

  // ---- RX ----

  /** Whether the VF's filters accept `frame` (MAC, multicast list, VLAN table, port VLAN). */
  accepts(frame: WireFrame): boolean {
    const f = this.state.filters;
    if (
      frame.vlan !== 0 &&
      frame.vlan !== this.#options.pf.portVlan &&
      !hasVlan(f.vlans, frame.vlan)
    )
      return false;
    if (frame.dstMac === 0xffff_ffff_ffff) return true;
    if (isMulticast(frame.dstMac)) return f.promiscMc || f.mcHashes.includes(mcHash(frame.dstMac));
    return frame.dstMac === f.mac || f.promiscUc;
  }

  /** The RX queue and RSS hash the VF picks for a frame's bytes (Toeplitz over the IPv4 4-tuple). */
  classify(bytes: Uint8Array): { queue: 0 | 1; hash: number } {
    const rss = this.state.rss;
    if ((rss.mrqc & 1) === 0 || bytes.byteLength < 38) return { queue: 0, hash: 0 };
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint16(12) !== 0x0800) return { queue: 0, hash: 0 };
    const hash = toeplitz(
      rss.key,
      rssInput({
        srcIp: v.getUint32(26),
        dstIp: v.getUint32(30),
        srcPort: v.getUint16(34),
        dstPort: v.getUint16(36),
        proto: v.getUint8(23),
      }),
    );
    return { queue: (rss.reta[hash & (RETA_ENTRIES - 1)]! & 1) as 0 | 1, hash };
  }

  #classifyTuple(frame: WireFrame): { queue: 0 | 1; hash: number } {
    const rss = this.state.rss;
    if ((rss.mrqc & 1) === 0 || frame.ethertype !== 0x0800) return { queue: 0, hash: 0 };
    const hash = toeplitz(rss.key, rssInput(frame.tuple));
    return { queue: (rss.reta[hash & (RETA_ENTRIES - 1)]! & 1) as 0 | 1, hash };
  }

  /**
   * Receives one frame from the wire: filter, RSS queue choice, descriptor fetch, data
   * DMA, descriptor write-back, head advance, interrupt cause — all before returning, so
   * a stop between two frames never leaves a buffer without its DD or a DD without data.
   */
  receive(frame: WireFrame): RxOutcome {
    if (!this.accepts(frame)) return "filtered";
    // The headers say the same as the frame's fields, so classify from them and build the
    // bytes only once a descriptor is there to take them.
    const { queue, hash } = this.#classifyTuple(frame);
    const r = this.state.rx[queue];
    const n = ringDescs(r.lenBytes);
    if (!r.enabled || n === 0 || r.head === r.tail) {
      r.rqdpc++;
      return "no-desc";
    }
    const bytes = buildFrame(frame);
    const bufSize = Math.max(1, r.srrctl & 0x7f) * 1024;
    if (bytes.byteLength > bufSize) {
      r.rqdpc++;
      return "no-desc";
    }
    const descAddr = r.baseGpa + r.head * 16;
    const desc = this.#io.dmaRead(descAddr, 16);
    if (desc === undefined) return "fault";
    const dv = new DataView(desc.buffer, desc.byteOffset, 16);
    const pktAddr = Number(dv.getBigUint64(0, true) & 0xf_ffff_ffff_ffffn);
    if (!this.#io.dmaWrite(pktAddr, bytes)) return "fault";
    const wb = new Uint8Array(16);
    const w = new DataView(wb.buffer);
    w.setUint16(0, hash === 0 ? 0 : frame.tuple.proto === 6 ? 1 : 3, true);
    w.setUint32(4, hash, true);
    const vlanShown = frame.vlan !== 0 && frame.vlan !== this.#options.pf.portVlan;
    w.setUint32(8, RxStatus.DD | RxStatus.EOP | (vlanShown ? RxStatus.VP : 0), true);
    w.setUint16(12, bytes.byteLength, true);
    w.setUint16(14, vlanShown ? frame.vlan : 0, true);
    if (!this.#io.dmaWrite(descAddr, wb)) return "fault";
    const index = r.head;
    r.head = (r.head + 1) % n;
    const st = this.state.stats;
    st.gprc++;
    st.gorc += bytes.byteLength;
    if (isMulticast(frame.dstMac)) st.mprc++;
    this.trace.rxWriteback?.(queue, index, frame.seq, hash);
    this.#queueCause(this.state.irq.ivar0 >>> (16 * queue));
    return "delivered";
  }

  // ---- TX ----

  /** Fetches and sends up to {@link TX_BURST} descriptors per queue; nothing while the initiator is suspended. */
  transmitTick(): void {
    if (this.#initiatorSuspended) return;
    for (const q of [0, 1] as const) this.#transmitQueue(q);
  }

  #transmitQueue(q: 0 | 1): void {
    const t = this.state.tx[q];
    const n = ringDescs(t.lenBytes);
    if (!t.enabled || n === 0) return;
    let budget = TX_BURST;
    let completed = false;
    while (t.head !== t.tail && budget-- > 0) {
      const at = t.baseGpa + t.head * 16;
      const desc = this.#io.dmaRead(at, 16);
      if (desc === undefined) return; // the guest's bad ring: stall until it fixes it
      const dv = new DataView(desc.buffer, desc.byteOffset, 16);
      const addr = Number(dv.getBigUint64(0, true) & 0xf_ffff_ffff_ffffn);
      const cmd = dv.getUint32(8, true);
      const olinfo = dv.getUint32(12, true);
      const dtyp = (cmd >>> TxCmd.DTYP_SHIFT) & 0xf;
      if ((cmd & TxCmd.DEXT) !== 0 && dtyp === TxCmd.DTYP_CONTEXT) {
        const slot = (olinfo >>> 4) & 1;
        t.ctx[slot] = Uint32Array.from([dv.getUint32(0, true), dv.getUint32(4, true), cmd, olinfo]);
        t.head = (t.head + 1) % n;
        continue;
      }
      const len = cmd & 0xffff;
      if (t.partial === null) {
        t.partial = { firstDesc: t.head, descs: 0, bytes: 0, policy: "gathering" };
        this.#gathered[q] = [];
        this.#partialDd[q] = false;
      }
      if (t.partial.policy === "gathering") {
        const data = len === 0 ? new Uint8Array(0) : this.#io.dmaRead(addr, len);
        if (data === undefined) return;
        this.#gathered[q]!.push(data);
      }
      t.partial.descs++;
      t.partial.bytes += len;
      if ((cmd & TxCmd.RS) !== 0) {
        // Written back per descriptor (as QEMU's igb does): the bytes are already gathered.
        const status = new Uint8Array(4);
        new DataView(status.buffer).setUint32(0, olinfo | TX_DD, true);
        this.#io.dmaWrite(at + 12, status);
        this.#partialDd[q] = true;
      }
      t.head = (t.head + 1) % n;
      if ((cmd & TxCmd.EOP) !== 0) {
        this.#finishPacket(q);
        completed = true;
      }
    }
    if (completed) {
      if ((t.headWb % 2 ** 32) & TDWBAL_ENABLE) {
        const word = new Uint8Array(4);
        new DataView(word.buffer).setUint32(0, t.head, true);
        this.#io.dmaWrite(t.headWb - ((t.headWb % 2 ** 32) & 3), word);
      }
      this.#queueCause(this.state.irq.ivar0 >>> (16 * q + 8));
    }
  }

  #finishPacket(q: 0 | 1): void {
    const t = this.state.tx[q];
    const partial = t.partial!;
    t.partial = null;
    if (partial.policy === "drop") {
      this.trace.txSkipped?.(q, partial.firstDesc);
      return;
    }
    const parts = this.#gathered[q]!;
    this.#gathered[q] = [];
    const frame = new Uint8Array(partial.bytes);
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.byteLength;
    }
    const seq = readMarker(frame)?.seq;
    if (
      this.#options.pf.spoofChk &&
      frame.byteLength >= 12 &&
      frameMacs(frame).src !== this.state.filters.mac
    ) {
      return; // the PF's anti-spoof check drops it; the descriptors still complete
    }
    const st = this.state.stats;
    st.gptc++;
    st.gotc += frame.byteLength;
    this.trace.txEmitted?.(q, seq, frame.byteLength);
    this.wire?.transmit(frame);
  }

  /**
   * Initiator suspend (RUNNING → RUNNING_P2P, or a direct stop): no new TX fetch, and a
   * half-gathered packet is resolved by policy so the wire never sees part of it.
   */
  suspendInitiator(): void {
    for (const q of [0, 1] as const) {
      const t = this.state.tx[q];
      const p = t.partial;
      if (p === null || p.policy === "drop") continue;
      const first = this.#gathered[q]![0];
      const seq = first === undefined ? undefined : readMarker(first)?.seq;
      this.#gathered[q] = [];
      // A packet with a descriptor already written back cannot be rewound: the guest may have reclaimed it.
      const outcome: PartialPolicy =
        this.#options.partialPolicy === "refetch" && !this.#partialDd[q] ? "refetch" : "drop";
      if (outcome === "refetch") {
        t.head = p.firstDesc;
        t.partial = null;
      } else {
        p.policy = "drop";
      }
      this.trace.txPartial?.(q, seq, outcome, p.firstDesc);
    }
    this.#initiatorSuspended = true;
  }

  /** Initiator resume (RUNNING_P2P → RUNNING). */
  resumeInitiator(): void {
    this.#initiatorSuspended = false;
  }

  // ---- interrupts ----

  /** Raises the cause of the vector an IVAR byte names (bit 7 valid, bits 1:0 vector). */
  #queueCause(ivarByte: number): void {
    if ((ivarByte & 0x80) === 0) return;
    const v = ivarByte & 0x3;
    if (v < VF_MSIX_VECTORS) this.#cause(v);
  }

  #cause(v: number): void {
    this.state.irq.eicr |= 1 << v;
    this.#tryFire(v);
  }

  /** Sends vector `v` now, or marks it pending until its throttle window (EITR) passes. */
  #tryFire(v: number): void {
    const irq: Irq = this.state.irq;
    const bit = 1 << v;
    if ((irq.eims & bit) === 0) return; // masked: the cause waits in EICR for EIMS
    const last = irq.lastMsi[v]!;
    if (last >= 0 && this.state.now - last < irq.eitr[v]!) {
      irq.pending |= bit;
      return;
    }
    irq.pending &= ~bit;
    irq.lastMsi[v] = this.state.now;
    if (irq.eiac & bit) irq.eicr &= ~bit;
    if (irq.eiam & bit) irq.eims &= ~bit;
    this.trace.msi?.(v);
    this.#io.raise(v);
  }

  /** Delivers throttled causes whose window has passed (each exactly once). */
  #firePending(): void {
    const irq = this.state.irq;
    for (let v = 0; v < VF_MSIX_VECTORS; v++) if (irq.pending & (1 << v)) this.#tryFire(v);
  }

  // ---- mailbox (VF registers, PF handler) ----

  #writeMailboxCtrl(value: number): void {
    const m = this.state.mailbox;
    if (value & Mbx.REQ && m.inFlight === "none") {
      m.inFlight = "vf-to-pf";
      m.ctrl = (m.ctrl | Mbx.REQ) & ~(Mbx.PFSTS | Mbx.PFACK);
      m.reqTick = this.state.now;
      this.#schedulePf();
    }
    if (value & Mbx.ACK && m.inFlight === "pf-to-vf") {
      m.inFlight = "none";
      m.ctrl &= ~(Mbx.PFSTS | Mbx.PFACK);
    }
  }

  /** When the PF answers the pending request: its posting tick plus the PF's delay for that message. */
  #schedulePf(): void {
    const m = this.state.mailbox;
    const id = (m.mem[0]! >>> MSG_ID_SHIFT) & 0xff;
    const delay =
      this.#options.caps.mailboxDelay?.(id) ??
      1 + (draw(this.#options.seed, 0x6d62, m.mem[0]!) & 1);
    this.#mbxDue = m.reqTick + Math.max(0, delay);
  }

  /**
   * A PF taking over a VF (a migrated-in one) schedules a request it never saw from the
   * posting tick the VF kept, and answers it once. A reply waiting for the VF needs nothing.
   */
  adoptMailbox(): void {
    this.#mbxDue = undefined;
  }

  /** The PF changes the VF's link (an administrator's link-state override); the VF is told by its misc vector. */
  setLink(up: boolean): void {
    if (this.state.link.up === up) return;
    this.state.link.up = up;
    this.#queueCause(this.state.irq.ivarMisc);
  }

  // ---- time ----

  /**
   * One device tick (1 ms): TX fetch, the PF's mailbox service, throttled interrupts.
   * RX is not here: frames arrive through {@link receive} when the wire delivers them.
   */
  tick(): void {
    this.state.now++;
    this.transmitTick();
    if (this.state.mailbox.inFlight === "vf-to-pf") {
      if (this.#mbxDue === undefined) this.#schedulePf();
      if (this.state.now >= this.#mbxDue!) {
        this.#mbxDue = undefined;
        const handled = pfServeRequest(this.state, this.#options.pf, this.#options.caps);
        this.trace.mailboxHandled?.(handled.id, handled.type, handled.acked);
        this.#queueCause(this.state.irq.ivarMisc);
      }
    }
    this.#firePending();
  }

  /** Forgets host-side progress (gathered bytes, the PF schedule): after a load or reset. */
  resetHostSide(): void {
    this.#gathered[0] = [];
    this.#gathered[1] = [];
    this.#partialDd[0] = false;
    this.#partialDd[1] = false;
    this.#mbxDue = undefined;
    this.#initiatorSuspended = false;
  }
}

function vectorMask(): number {
  return (1 << VF_MSIX_VECTORS) - 1;
}

function statOffset(offset: number): boolean {
  return offset >= Reg.VFGPRC && offset <= Reg.VFGOTLBC;
}
