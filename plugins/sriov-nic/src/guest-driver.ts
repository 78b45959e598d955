/**
 * A model of the guest's VF driver (igbvf-like), run on the guest's behalf once per tick
 * while the VM runs: it reaps RX, reposts buffers, enqueues TX (every 5th packet over two
 * descriptors), reads statistics and talks to the PF over the mailbox.
 *
 * All of its state lives in guest RAM — a control block, the rings and the buffers in a
 * region at `layout.base` — exactly like a real driver's, so it migrates with RAM and a
 * target continues from wherever the source's guest stopped. Nothing here is device state.
 */
import { buildFrame, ETH_P_IP, MARKER_END, readMarker } from "./frame.js";
import { draw } from "./mix.js";
import { RxStatus, TX_DD, TxCmd } from "./nic-device.js";
import { mcHash } from "./nic-state.js";
import type { NicProfile } from "./profile.js";
import {
  MBX_API,
  Mbx,
  MbxMsg,
  MSG_ID_SHIFT,
  MSGTYPE_ACK,
  QUEUE_ENABLE,
  QUEUE_STRIDE,
  Reg,
  STATUS_LU,
  TDWBAL_ENABLE,
} from "./regs.js";

/** Bytes of one RX or TX buffer. */
export const BUFFER_BYTES = 2048;
/** Magic of an initialised control block ("NICG"). */
export const GUEST_MAGIC = 0x4e494347;
const PAGE = 4096;

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** Where the guest driver keeps everything, in guest-physical addresses. */
export class GuestLayout {
  /** Guest-physical start of the region. */
  readonly base: number;
  /** Descriptors per RX ring. */
  readonly rxDescs: number;
  /** Descriptors per TX ring. */
  readonly txDescs: number;
  readonly #rxRingBytes: number;
  readonly #txRingBytes: number;

  constructor(base: number, profile: NicProfile) {
    this.base = base;
    this.rxDescs = profile.rxRingDescs;
    this.txDescs = profile.txRingDescs;
    this.#rxRingBytes = pageAlign(this.rxDescs * 16);
    this.#txRingBytes = pageAlign(this.txDescs * 16);
  }

  /** Bytes the region needs for `profile`. */
  static sizeFor(profile: NicProfile): number {
    return new GuestLayout(0, profile).size;
  }

  /** The control block (one page; head write-back words at +2048). */
  get control(): number {
    return this.base;
  }

  /** Head write-back word of TX queue `q`. */
  headWb(q: number): number {
    return this.base + 2048 + q * 8;
  }

  /** Base of RX ring `q`. */
  rxRing(q: number): number {
    return this.base + PAGE + q * this.#rxRingBytes;
  }

  /** Base of TX ring `q`. */
  txRing(q: number): number {
    return this.base + PAGE + 2 * this.#rxRingBytes + q * this.#txRingBytes;
  }

  /** The 2 KiB buffer RX descriptor `i` of queue `q` always points at. */
  rxBuf(q: number, i: number): number {
    return (
      this.base +
      PAGE +
      2 * (this.#rxRingBytes + this.#txRingBytes) +
      (q * this.rxDescs + i) * BUFFER_BYTES
    );
  }

  /** The 2 KiB buffer TX descriptor `i` of queue `q` always points at. */
  txBuf(q: number, i: number): number {
    return this.rxBuf(2, 0) + (q * this.txDescs + i) * BUFFER_BYTES;
  }

  /** Total bytes, page aligned. */
  get size(): number {
    return pageAlign(this.txBuf(2, 0) - this.base);
  }
}

/** How the guest driver reaches its memory and the VF's registers. */
export interface GuestIo {
  read(gpa: number, length: number): Uint8Array | undefined;
  write(gpa: number, data: Uint8Array): boolean;
  readReg(offset: number): number;
  writeReg(offset: number, value: number): void;
}

/** Host-side observer of what the guest saw and did (tests and benches; never state). */
export interface GuestTrace {
  rxDelivered?(seq: number, flow: number, queue: number, rssHash: number): void;
  txPosted?(seq: number, queue: number, descs: number): void;
  mailboxSent?(id: number, type: number): void;
  mailboxReply?(id: number, type: number, acked: boolean): void;
}

/** Control block offsets. */
const C = {
  MAGIC: 0,
  TICK: 4,
  RX_NEXT: 8,
  TX_USE: 12,
  TX_CLEAN: 16,
  TX_SEQ: 20,
  MBX_NEXT_ID: 24,
  MBX_WAITING: 28,
  MBX_TYPE: 32,
  RX_DELIVERED: 36,
  TX_POSTED: 40,
  LINK_DOWN_SEEN: 44,
  RSTI_SEEN: 48,
  MBX_REPLIES: 52,
  MC_EPOCH: 56,
  VLAN101: 60,
  STATS: 64, // 5 × {last u32, total u64}
  RX_BAD: 124,
  MBX_NACKS: 128,
  WANT: 132,
  MAC_HI: 136,
  MAC_LO: 140,
  BYTES: 144,
} as const;

/** Message wishes (bits of C.WANT), in the order they are sent. */
const Want = { RESET: 1, VLAN100: 2, VLAN101: 4, MULTICAST: 8 } as const;

/** Statistics registers the guest accumulates, in control-block order. */
export const GUEST_STATS = [Reg.VFGPRC, Reg.VFGPTC, Reg.VFGORC, Reg.VFGOTC, Reg.VFMPRC] as const;

/** Multicast groups the guest joins (flows 14 and 15 of the traffic generator). */
export const GUEST_GROUPS = [0x01005e01010e, 0x01005e01012f] as const;

/** What the guest's control block says, decoded (for tests and describe). */
export interface GuestView {
  readonly initialised: boolean;
  readonly tick: number;
  readonly rxNext: readonly number[];
  readonly txUse: readonly number[];
  readonly txClean: readonly number[];
  readonly txSeq: number;
  readonly rxDelivered: number;
  readonly txPosted: number;
  readonly linkDownSeen: number;
  readonly rstiSeen: number;
  readonly mailboxReplies: number;
  readonly mailboxNacks: number;
  readonly mailboxWaiting: boolean;
  readonly rxBad: number;
  /** The guest's 64-bit totals of gprc, gptc, gorc, gotc, mprc. */
  readonly statTotals: readonly number[];
  readonly mac: number;
}

/** Decodes a control block read from guest memory. */
export function decodeGuestControl(bytes: Uint8Array): GuestView {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    initialised: v.getUint32(C.MAGIC, true) === GUEST_MAGIC,
    tick: v.getUint32(C.TICK, true),
    rxNext: [v.getUint16(C.RX_NEXT, true), v.getUint16(C.RX_NEXT + 2, true)],
    txUse: [v.getUint16(C.TX_USE, true), v.getUint16(C.TX_USE + 2, true)],
    txClean: [v.getUint16(C.TX_CLEAN, true), v.getUint16(C.TX_CLEAN + 2, true)],
    txSeq: v.getUint32(C.TX_SEQ, true),
    rxDelivered: v.getUint32(C.RX_DELIVERED, true),
    txPosted: v.getUint32(C.TX_POSTED, true),
    linkDownSeen: v.getUint32(C.LINK_DOWN_SEEN, true),
    rstiSeen: v.getUint32(C.RSTI_SEEN, true),
    mailboxReplies: v.getUint32(C.MBX_REPLIES, true),
    mailboxNacks: v.getUint32(C.MBX_NACKS, true),
    mailboxWaiting: v.getUint32(C.MBX_WAITING, true) !== 0,
    rxBad: v.getUint32(C.RX_BAD, true),
    statTotals: GUEST_STATS.map((_, i) => {
      const at = C.STATS + i * 12 + 4;
      return v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
    }),
    mac: v.getUint32(C.MAC_HI, true) * 2 ** 16 + v.getUint32(C.MAC_LO, true),
  };
}

/** Settings of a {@link GuestDriver}. */
export interface GuestDriverOptions {
  readonly layout: GuestLayout;
  readonly profile: NicProfile;
  /** Seed of the guest's packet lengths. */
  readonly seed: number;
  /** Packets enqueued per tick (the profile's by default). */
  readonly txRate?: number;
}

/** The guest driver. One instance per device; it holds no state of its own. */
export class GuestDriver {
  readonly layout: GuestLayout;
  readonly #profile: NicProfile;
  readonly #seed: number;
  readonly #txRate: number;
  readonly #io: GuestIo;
  trace: GuestTrace = {};

  constructor(io: GuestIo, options: GuestDriverOptions) {
    this.#io = io;
    this.layout = options.layout;
    this.#profile = options.profile;
    this.#seed = options.seed;
    this.#txRate = options.txRate ?? options.profile.txRate;
  }

  /** One tick of guest work. Returns false when guest memory faulted (nothing was done). */
  tick(): boolean {
    const raw = this.#io.read(this.layout.control, C.BYTES);
    if (raw === undefined) return false;
    const ctl = raw.slice();
    const v = new DataView(ctl.buffer);
    if (v.getUint32(C.MAGIC, true) !== GUEST_MAGIC) {
      this.#probe(ctl, v);
    } else if ((this.#io.readReg(Reg.RXDCTL0) & QUEUE_ENABLE) === 0) {
      // The VF lost its programming (a reset): count it, as a driver logs a reset, and probe again.
      const resets = v.getUint32(C.RSTI_SEEN, true) + 1;
      const seq = v.getUint32(C.TX_SEQ, true);
      this.#probe(ctl, v);
      v.setUint32(C.RSTI_SEEN, resets, true);
      v.setUint32(C.TX_SEQ, seq, true);
    } else {
      v.setUint32(C.TICK, v.getUint32(C.TICK, true) + 1, true);
      this.#checkLink(v);
      this.#mailbox(v);
      for (const q of [0, 1]) this.#reapRx(q, v);
      for (const q of [0, 1]) this.#reclaimTx(q, v);
      this.#enqueueTx(v);
      this.#readStats(v);
    }
    return this.#io.write(this.layout.control, ctl);
  }

  #probe(ctl: Uint8Array, v: DataView): void {
    const io = this.#io;
    const L = this.layout;
    ctl.fill(0);
    // RSS over both queues (the device's default key, entries alternating), queues to vectors 0/1, mailbox to 2.
    io.writeReg(Reg.MRQC, 1);
    io.writeReg(Reg.IVAR0, 0x81818080);
    io.writeReg(Reg.IVAR_MISC, 0x82);
    io.writeReg(Reg.EITR0, 4);
    io.writeReg(Reg.EITR0 + 4, 4);
    io.writeReg(Reg.EITR0 + 8, 0);
    io.writeReg(Reg.EIAC, 0x7);
    io.writeReg(Reg.EIMS, 0x7);
    for (const q of [0, 1]) {
      const o = q * QUEUE_STRIDE;
      const n = L.rxDescs;
      const ring = new Uint8Array(n * 16);
      const rv = new DataView(ring.buffer);
      for (let i = 0; i < n; i++) rv.setBigUint64(i * 16, BigInt(L.rxBuf(q, i)), true);
      io.write(L.rxRing(q), ring);
      io.writeReg(Reg.RDBAL0 + o, L.rxRing(q) % 2 ** 32);
      io.writeReg(Reg.RDBAH0 + o, Math.floor(L.rxRing(q) / 2 ** 32));
      io.writeReg(Reg.RDLEN0 + o, n * 16);
      io.writeReg(Reg.SRRCTL0 + o, BUFFER_BYTES / 1024);
      io.writeReg(Reg.RDH0 + o, 0);
      io.writeReg(Reg.RXDCTL0 + o, QUEUE_ENABLE);
      io.writeReg(Reg.RDT0 + o, n - 1);
      io.write(L.txRing(q), new Uint8Array(L.txDescs * 16));
      io.writeReg(Reg.TDBAL0 + o, L.txRing(q) % 2 ** 32);
      io.writeReg(Reg.TDBAH0 + o, Math.floor(L.txRing(q) / 2 ** 32));
      io.writeReg(Reg.TDLEN0 + o, L.txDescs * 16);
      io.writeReg(Reg.TDH0 + o, 0);
      io.writeReg(Reg.TDT0 + o, 0);
      if (q === 1) {
        io.writeReg(Reg.TDWBAL0 + o, (L.headWb(q) % 2 ** 32) | TDWBAL_ENABLE);
        io.writeReg(Reg.TDWBAH0 + o, Math.floor(L.headWb(q) / 2 ** 32));
      }
      io.writeReg(Reg.TXDCTL0 + o, QUEUE_ENABLE);
    }
    v.setUint32(C.MAGIC, GUEST_MAGIC, true);
    v.setUint32(C.WANT, Want.RESET | Want.VLAN100 | Want.MULTICAST, true);
    for (let i = 0; i < GUEST_STATS.length; i++)
      v.setUint32(C.STATS + i * 12, io.readReg(GUEST_STATS[i]!), true);
  }

  #checkLink(v: DataView): void {
    if ((this.#io.readReg(Reg.STATUS) & STATUS_LU) === 0) bump(v, C.LINK_DOWN_SEEN);
  }

  #mailbox(v: DataView): void {
    const io = this.#io;
    const tick = v.getUint32(C.TICK, true);
    const period = this.#profile.mailboxPeriod;
    let want = v.getUint32(C.WANT, true);
    if (tick % period === 0) want |= Want.MULTICAST;
    if (tick % (2 * period) === 0) want |= Want.VLAN101;
    const ctrl = io.readReg(Reg.V2PMAILBOX);
    if (ctrl & Mbx.RSTI) bump(v, C.RSTI_SEEN);
    if (v.getUint32(C.MBX_WAITING, true) !== 0) {
      if ((ctrl & Mbx.PFSTS) === 0) {
        v.setUint32(C.WANT, want, true);
        return;
      }
      const w0 = io.readReg(Reg.VMBMEM);
      const type = w0 & 0xff;
      const acked = (w0 & MSGTYPE_ACK) !== 0;
      if (type === MbxMsg.RESET && acked) {
        v.setUint32(C.MAC_HI, io.readReg(Reg.VMBMEM + 4), true);
        v.setUint32(C.MAC_LO, io.readReg(Reg.VMBMEM + 8) >>> 16, true);
      }
      io.writeReg(Reg.V2PMAILBOX, Mbx.ACK);
      v.setUint32(C.MBX_WAITING, 0, true);
      bump(v, C.MBX_REPLIES);
      if (!acked) bump(v, C.MBX_NACKS);
      this.trace.mailboxReply?.((w0 >>> MSG_ID_SHIFT) & 0xff, type, acked);
    } else if (want !== 0) {
      const id = v.getUint32(C.MBX_NEXT_ID, true) & 0xff;
      const words: number[] = [];
      let type: number;
      if (want & Want.RESET) {
        want &= ~Want.RESET;
        type = MbxMsg.RESET;
        words.push(type);
      } else if (want & Want.VLAN100) {
        want &= ~Want.VLAN100;
        type = MbxMsg.SET_VLAN;
        words.push(type | (1 << 8), 100);
      } else if (want & Want.VLAN101) {
        want &= ~Want.VLAN101;
        type = MbxMsg.SET_VLAN;
        const on = v.getUint32(C.VLAN101, true) ^ 1;
        v.setUint32(C.VLAN101, on, true);
        words.push(type | (on << 8), 101);
      } else {
        want &= ~Want.MULTICAST;
        type = MbxMsg.SET_MULTICAST;
        // Alternate between one and both groups so the filter really changes over time.
        const epoch = v.getUint32(C.MC_EPOCH, true);
        v.setUint32(C.MC_EPOCH, epoch + 1, true);
        const groups = epoch % 2 === 0 ? GUEST_GROUPS : GUEST_GROUPS.slice(0, 1);
        const hashes = groups.map(mcHash);
        words.push(type | (hashes.length << 8), (hashes[0] ?? 0) | ((hashes[1] ?? 0) << 16));
      }
      words[0] = (words[0]! | (id << MSG_ID_SHIFT)) >>> 0;
      words.forEach((w, i) => {
        io.writeReg(Reg.VMBMEM + i * 4, w);
      });
      io.writeReg(Reg.V2PMAILBOX, Mbx.REQ);
      v.setUint32(C.MBX_NEXT_ID, id + 1, true);
      v.setUint32(C.MBX_WAITING, 1, true);
      v.setUint32(C.MBX_TYPE, type, true);
      this.trace.mailboxSent?.(id, type);
    }
    v.setUint32(C.WANT, want, true);
  }

  #reapRx(q: number, v: DataView): void {
    const io = this.#io;
    const L = this.layout;
    const n = L.rxDescs;
    const ring = io.read(L.rxRing(q), n * 16);
    if (ring === undefined) return;
    const rv = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    let idx = v.getUint16(C.RX_NEXT + q * 2, true);
    let reaped = 0;
    while (reaped < n - 1 && (rv.getUint32(idx * 16 + 8, true) & RxStatus.DD) !== 0) {
      const head = io.read(L.rxBuf(q, idx), MARKER_END);
      const marker = head === undefined ? undefined : readMarker(head);
      if (marker === undefined) bump(v, C.RX_BAD);
      else this.trace.rxDelivered?.(marker.seq, marker.flow, q, rv.getUint32(idx * 16 + 4, true));
      bump(v, C.RX_DELIVERED);
      idx = (idx + 1) % n;
      reaped++;
    }
    v.setUint16(C.RX_NEXT + q * 2, idx, true);
    if (reaped === 0) return;
    // Re-post as many buffers at the tail, in read format (status word = 0 clears DD).
    const o = q * QUEUE_STRIDE;
    let tail = io.readReg(Reg.RDT0 + o);
    const desc = new Uint8Array(16);
    const dv = new DataView(desc.buffer);
    for (let k = 0; k < reaped; k++) {
      dv.setBigUint64(0, BigInt(L.rxBuf(q, tail)), true);
      io.write(L.rxRing(q) + tail * 16, desc);
      tail = (tail + 1) % n;
    }
    io.writeReg(Reg.RDT0 + o, tail);
  }

  #reclaimTx(q: number, v: DataView): void {
    const L = this.layout;
    const n = L.txDescs;
    const use = v.getUint16(C.TX_USE + q * 2, true);
    let clean = v.getUint16(C.TX_CLEAN + q * 2, true);
    if (q === 1) {
      // Head write-back: the device tells where it is in one word.
      const word = this.#io.read(L.headWb(q), 4);
      if (word !== undefined) {
        const head = new DataView(word.buffer, word.byteOffset, 4).getUint32(0, true) % n;
        // Free whole packets only: a head inside a packet (its EOP not yet fetched) keeps that packet's buffers.
        const prev = (head - 1 + n) % n;
        const desc = head === clean ? undefined : this.#io.read(L.txRing(q) + prev * 16, 16);
        const inside =
          desc !== undefined &&
          (new DataView(desc.buffer, desc.byteOffset, 16).getUint32(8, true) & TxCmd.EOP) === 0;
        clean = inside ? prev : head;
      }
    } else {
      const ring = this.#io.read(L.txRing(q), n * 16);
      if (ring === undefined) return;
      const rv = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
      for (let i = clean; i !== use; i = (i + 1) % n) {
        const cmd = rv.getUint32(i * 16 + 8, true);
        if ((cmd & TxCmd.RS) !== 0 && (rv.getUint32(i * 16 + 12, true) & TX_DD) !== 0)
          clean = (i + 1) % n;
      }
    }
    v.setUint16(C.TX_CLEAN + q * 2, clean, true);
  }

  #enqueueTx(v: DataView): void {
    const macHi = v.getUint32(C.MAC_HI, true);
    if (macHi === 0) return; // no MAC from the PF yet (VF_RESET unanswered)
    const mac = macHi * 2 ** 16 + v.getUint32(C.MAC_LO, true);
    const io = this.#io;
    const L = this.layout;
    const n = L.txDescs;
    const tails = [-1, -1];
    for (let k = 0; k < this.#txRate; k++) {
      const seq = v.getUint32(C.TX_SEQ, true);
      const q = seq & 1;
      const descs = seq % 5 === 4 ? 2 : 1;
      // The L4 protocol changes every 4th packet of a queue, and igb drivers then put an
      // advanced context descriptor (offload parameters) ahead of the packet.
      const proto = (seq >>> 3) % 2 === 0 ? 6 : 17;
      const withContext = (seq >>> 1) % 4 === 0;
      const use = v.getUint16(C.TX_USE + q * 2, true);
      const clean = v.getUint16(C.TX_CLEAN + q * 2, true);
      if ((clean - use - 1 + 2 * n) % n < descs + (withContext ? 1 : 0)) break; // ring full: next tick
      const length = 64 + (draw(this.#seed, 0x7478, seq) % 1437);
      const frame = buildFrame({
        seq,
        flow: seq % 16,
        dstMac: 0x02bb00000001,
        srcMac: mac,
        vlan: 0,
        ethertype: ETH_P_IP,
        length,
        tuple: {
          srcIp: 0x0a010002,
          dstIp: 0x0a000001,
          srcPort: 40000 + (seq % 16),
          dstPort: 80,
          proto,
        },
      });
      const split =
        descs === 2 ? [frame.subarray(0, length >> 1), frame.subarray(length >> 1)] : [frame];
      let at = use;
      if (withContext) {
        const ctx = new Uint8Array(16);
        const cv = new DataView(ctx.buffer);
        cv.setUint32(0, (14 << 9) | 20, true); // vlan_macip_lens: MAC header 14, IP header 20
        cv.setUint32(
          8,
          (TxCmd.DEXT | (TxCmd.DTYP_CONTEXT << TxCmd.DTYP_SHIFT) | (proto === 6 ? 1 << 11 : 0)) >>>
            0,
          true,
        );
        cv.setUint32(12, (proto === 6 ? 0 : 1) << 4, true); // context slot
        io.write(L.txRing(q) + at * 16, ctx);
        at = (at + 1) % n;
      }
      split.forEach((part, i) => {
        const last = i === split.length - 1;
        io.write(L.txBuf(q, at), part);
        const desc = new Uint8Array(16);
        const dv = new DataView(desc.buffer);
        dv.setBigUint64(0, BigInt(L.txBuf(q, at)), true);
        // RS on every 4th packet of each queue (the queue alternates with the sequence number).
        const rs = last && (seq >>> 1) % 4 === 3 ? TxCmd.RS : 0;
        dv.setUint32(
          8,
          (part.byteLength |
            (TxCmd.DTYP_DATA << TxCmd.DTYP_SHIFT) |
            TxCmd.DEXT |
            TxCmd.IFCS |
            (last ? TxCmd.EOP : 0) |
            rs) >>>
            0,
          true,
        );
        dv.setUint32(12, (length << 14) >>> 0, true);
        io.write(L.txRing(q) + at * 16, desc);
        at = (at + 1) % n;
      });
      v.setUint16(C.TX_USE + q * 2, at, true);
      v.setUint32(C.TX_SEQ, seq + 1, true);
      bump(v, C.TX_POSTED);
      tails[q] = at;
      this.trace.txPosted?.(seq, q, descs);
    }
    tails.forEach((t, q) => {
      if (t >= 0) io.writeReg(Reg.TDT0 + q * QUEUE_STRIDE, t);
    });
  }

  #readStats(v: DataView): void {
    GUEST_STATS.forEach((reg, i) => {
      const at = C.STATS + i * 12;
      const now = this.#io.readReg(reg);
      const delta = (now - v.getUint32(at, true)) >>> 0;
      const total = v.getUint32(at + 4, true) + v.getUint32(at + 8, true) * 2 ** 32 + delta;
      v.setUint32(at, now, true);
      v.setUint32(at + 4, total % 2 ** 32, true);
      v.setUint32(at + 8, Math.floor(total / 2 ** 32), true);
    });
  }
}

function bump(v: DataView, at: number): void {
  v.setUint32(at, (v.getUint32(at, true) + 1) >>> 0, true);
}

/** The mailbox API this guest asks for (documentation of the probe's choice). */
export const GUEST_MBX_API = MBX_API;
