/**
 * The simulated guest VF driver (what `hisi_zip` / `qat_4xxx` would be inside the VM):
 * it allocates the queues and buffers in guest RAM, programs the device, submits jobs,
 * and reaps completions when its interrupt latch says so, checking every output byte for
 * byte against a recomputation.
 *
 * All of its state lives in guest RAM — the bookkeeping page, the outstanding-job bitmap,
 * the rings — so it migrates with RAM and continues on the target exactly where the
 * source left it; nothing of it is in the device stream. The latch is set when the device
 * raises an interrupt (an MSI is itself a memory write), so an interrupt raised while the
 * vCPUs are paused is not lost with them.
 */

import { DmaFaultError } from "@mdevkit/core";
import type { DoorbellCmd, MailboxCommand } from "./accel-device.js";
import { AEQ_VECTOR, EQ_VECTOR, type QmRegName } from "./device-state.js";
import { draw } from "./hash.js";
import { computeOutput, DST_POISON, isJobOp, JobStatus, opOf, sourcePattern } from "./jobs.js";
import { CQE_BYTES, EQE_BYTES, JOB_BITMAP_BITS, QC_BYTES, type RegionLayout } from "./layout.js";
import type { Personality, Profile } from "./profiles.js";
import { decodeCqe, decodeEqe, decodeSqe, encodeQueueContext, encodeSqe } from "./wire-formats.js";

/** Guest memory as the guest's CPU sees it. */
export interface GuestBus {
  /** A CPU read of guest RAM. */
  read(gpa: number, length: number): Uint8Array;
  /** A CPU write of guest RAM. */
  write(gpa: number, data: Uint8Array): void;
}

/** The device's guest-visible registers, mailbox and doorbells. */
export interface DeviceMmio {
  /** Reads `QM_VF_STATE`: whether the VF's queues are set up (false after a reset). */
  vfReady(): boolean;
  /** Hands the device the guest's DMA window. */
  setWindow(base: number, bytes: number): void;
  /** Writes a register. */
  writeReg(name: QmRegName, value: number): void;
  /** Issues a mailbox command. */
  mailbox(m: MailboxCommand): void;
  /** Rings a doorbell. */
  doorbell(qn: number, cmd: DoorbellCmd, index: number): void;
}

/** Magic of an initialised bookkeeping page ("AGST"). */
export const GUEST_MAGIC = 0x54534741;

/** Offsets of the bookkeeping page's fields. */
const G = {
  magic: 0,
  nextJobId: 8,
  submitted: 12,
  completed: 16,
  duplicates: 20,
  verifyFailures: 24,
  orderViolations: 28,
  errors: 32,
  irqLatch: 36,
  guestTick: 40,
  eqHead: 44,
  eqPhase: 46,
  aeqHead: 48,
  aeqPhase: 50,
  aeqEvents: 52,
  wakeups: 56,
  qps: 64,
} as const;
/** Per-pair block: sqTail u16, doneIdx u16, cqHead u16, cqPhase u16, outstanding u16. */
const QP_BLOCK = 16;

/** The guest's counters, for tests and reports. */
export interface GuestStats {
  /** Whether the driver's bookkeeping page is set up. */
  readonly initialized: boolean;
  /** Jobs submitted since the driver loaded. */
  readonly submitted: number;
  /** Completions reaped. */
  readonly completed: number;
  /** Completions of a job id that was not outstanding (a job completed twice). */
  readonly duplicates: number;
  /** Completions whose output differed from the recomputation. */
  readonly verifyFailures: number;
  /** Completions out of per-pair submission order (or naming another pair). */
  readonly orderViolations: number;
  /** Completions with a non-OK status. */
  readonly errors: number;
  /** Asynchronous events reaped. */
  readonly aeqEvents: number;
  /** Interrupt latches serviced. */
  readonly wakeups: number;
  /** Jobs submitted and not yet reaped, per pair. */
  readonly outstanding: readonly number[];
  /** The interrupt latch (bit per vector) not yet serviced. */
  readonly irqLatch: number;
  /** The id the next job gets. */
  readonly nextJobId: number;
}

/** The guest driver over `layout`. Stateless itself: every field is read from guest RAM. */
export class AccelGuest {
  readonly #bus: GuestBus;
  readonly #mmio: DeviceMmio;
  /** Where the driver's region lies. */
  readonly layout: RegionLayout;
  readonly #personality: Personality;
  readonly #profile: Profile;
  readonly #seed: number;

  constructor(
    bus: GuestBus,
    mmio: DeviceMmio,
    layout: RegionLayout,
    personality: Personality,
    profile: Profile,
    seed: number,
  ) {
    this.#bus = bus;
    this.#mmio = mmio;
    this.layout = layout;
    this.#personality = personality;
    this.#profile = profile;
    this.#seed = seed;
  }

  #u32(off: number): number {
    const b = this.#bus.read(this.layout.guestPage + off, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  #setU32(off: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.#bus.write(this.layout.guestPage + off, b);
  }

  #u16(off: number): number {
    const b = this.#bus.read(this.layout.guestPage + off, 2);
    return b[0]! | (b[1]! << 8);
  }

  #setU16(off: number, v: number): void {
    this.#bus.write(this.layout.guestPage + off, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }

  #bump(off: number, by = 1): void {
    this.#setU32(off, this.#u32(off) + by);
  }

  /** Whether the driver has set the device up (its page carries the magic). */
  get initialized(): boolean {
    return this.#u32(G.magic) === GUEST_MAGIC;
  }

  /**
   * Loads the driver: hands the device its DMA window first (so an IOMMU-tracking device
   * pins it before any byte is written), clears the bookkeeping, writes the queue
   * contexts, programs the tables, event queues and masks, starts every pair.
   */
  init(): void {
    const L = this.layout;
    const { qpNum, depth } = this.#profile;
    this.#mmio.setWindow(L.base, L.bytes);
    this.#bus.write(L.guestPage, new Uint8Array(4096));
    this.#bus.write(L.jobBitmap, new Uint8Array(JOB_BITMAP_BITS / 8));
    for (let q = 0; q < qpNum; q++) {
      const qp = L.qps[q]!;
      const ctx = (base: number, entryBytes: number) =>
        encodeQueueContext({ base, head: 0, tail: 0, depth, entryBytes, full: false, phase: 1 });
      this.#bus.write(L.sqcTable + q * QC_BYTES, ctx(qp.sq, this.#personality.sqeBytes));
      this.#bus.write(L.cqcTable + q * QC_BYTES, ctx(qp.cq, CQE_BYTES));
      this.#bus.write(qp.cq, new Uint8Array(depth * CQE_BYTES));
      this.#setU16(G.qps + q * QP_BLOCK + 6, 1);
    }
    this.#bus.write(L.eq, new Uint8Array(this.#profile.eqDepth * EQE_BYTES));
    this.#bus.write(L.aeq, new Uint8Array(this.#profile.aeqDepth * EQE_BYTES));
    this.#setU16(G.eqPhase, 1);
    this.#setU16(G.aeqPhase, 1);
    this.#mmio.mailbox({ cmd: "SQC_BT", gpa: L.sqcTable });
    this.#mmio.mailbox({ cmd: "CQC_BT", gpa: L.cqcTable });
    this.#mmio.mailbox({ cmd: "EQC", gpa: L.eq, depth: this.#profile.eqDepth });
    this.#mmio.mailbox({ cmd: "AEQC", gpa: L.aeq, depth: this.#profile.aeqDepth });
    this.#mmio.writeReg("pageSize", 4096);
    this.#mmio.writeReg("pfvfIntMask", 0);
    this.#mmio.writeReg("eqIntMask", 0);
    this.#mmio.writeReg("aeqIntMask", 0);
    for (let q = 0; q < qpNum; q++) this.#mmio.mailbox({ cmd: "QP_START", qpn: q });
    this.#mmio.mailbox({ cmd: "VF_READY" });
    this.#setU32(G.magic, GUEST_MAGIC);
  }

  /** The interrupt handler: latch the vector; the bottom half runs in {@link service}. */
  onInterrupt(vector: number): void {
    if (!this.initialized) return;
    if (vector === EQ_VECTOR || vector === AEQ_VECTOR)
      this.#setU32(G.irqLatch, this.#u32(G.irqLatch) | (1 << vector));
  }

  /** Clears the latch without servicing it (tests: an interrupt lost in flight). */
  dropLatch(): void {
    this.#setU32(G.irqLatch, 0);
  }

  /**
   * Submits up to `n` jobs on pair `q` (fewer when its buffer pool is in use), then rings
   * the SQ doorbell once. Returns how many were submitted.
   */
  submit(q: number, n: number): number {
    const { depth, bufSlots, jobBytes } = this.#profile;
    const L = this.layout;
    const qp = L.qps[q]!;
    const blk = G.qps + q * QP_BLOCK;
    let tail = this.#u16(blk) % depth;
    let outstanding = this.#u16(blk + 8);
    let done = 0;
    for (; done < n && outstanding < bufSlots; done++) {
      const jobId = this.#u32(G.nextJobId);
      this.#setU32(G.nextJobId, jobId + 1);
      const slot = tail % bufSlots;
      const src = qp.src + slot * jobBytes;
      const dst = qp.dst + slot * jobBytes;
      this.#bus.write(src, sourcePattern(this.#seed, jobId, jobBytes));
      const poison = new Uint8Array(4);
      new DataView(poison.buffer).setUint32(0, DST_POISON, true);
      this.#bus.write(dst, poison);
      const sqe = {
        jobId,
        op: opOf(jobId),
        srcGpa: src,
        dstGpa: dst,
        srcLen: jobBytes,
        dstCap: jobBytes,
      };
      this.#bus.write(
        qp.sq + tail * this.#personality.sqeBytes,
        encodeSqe(sqe, this.#personality.sqeBytes),
      );
      this.#setBit(jobId);
      tail = (tail + 1) % depth;
      outstanding++;
    }
    if (done === 0) return 0;
    this.#setU16(blk, tail);
    this.#setU16(blk + 8, outstanding);
    this.#bump(G.submitted, done);
    this.#mmio.doorbell(q, "SQ", tail);
    return done;
  }

  #bitAt(jobId: number): { gpa: number; mask: number } {
    const bit = jobId % JOB_BITMAP_BITS;
    return { gpa: this.layout.jobBitmap + (bit >>> 3), mask: 1 << (bit & 7) };
  }

  #setBit(jobId: number): void {
    const { gpa, mask } = this.#bitAt(jobId);
    const b = this.#bus.read(gpa, 1);
    this.#bus.write(gpa, Uint8Array.of(b[0]! | mask));
  }

  /** Clears job `jobId`'s outstanding bit; false if it was not set (a duplicate completion). */
  #clearBit(jobId: number): boolean {
    const { gpa, mask } = this.#bitAt(jobId);
    const b = this.#bus.read(gpa, 1)[0]!;
    if ((b & mask) === 0) return false;
    this.#bus.write(gpa, Uint8Array.of(b & ~mask));
    return true;
  }

  /** The bottom half: if the latch is set, drain the EQ (reaping the pairs it names) and the AEQ. */
  service(): void {
    const latch = this.#u32(G.irqLatch);
    if (latch === 0) return;
    this.#setU32(G.irqLatch, 0);
    this.#bump(G.wakeups);
    if (latch & (1 << EQ_VECTOR)) this.#drainEq();
    if (latch & (1 << AEQ_VECTOR)) this.#drainAeq();
  }

  #drainEq(): void {
    const depth = this.#profile.eqDepth;
    let head = this.#u16(G.eqHead) % depth;
    let phase = this.#u16(G.eqPhase) & 1;
    let moved = false;
    for (let i = 0; i < depth; i++) {
      const e = decodeEqe(this.#bus.read(this.layout.eq + head * EQE_BYTES, EQE_BYTES));
      if (e.phase !== phase) break;
      if (e.qn < this.#profile.qpNum) this.#reap(e.qn);
      head = (head + 1) % depth;
      if (head === 0) phase ^= 1;
      moved = true;
    }
    if (!moved) return;
    this.#setU16(G.eqHead, head);
    this.#setU16(G.eqPhase, phase);
    this.#mmio.doorbell(0, "EQ", head);
  }

  #drainAeq(): void {
    const depth = this.#profile.aeqDepth;
    let head = this.#u16(G.aeqHead) % depth;
    let phase = this.#u16(G.aeqPhase) & 1;
    let moved = false;
    for (let i = 0; i < depth; i++) {
      const e = decodeEqe(this.#bus.read(this.layout.aeq + head * EQE_BYTES, EQE_BYTES));
      if (e.phase !== phase) break;
      this.#bump(G.aeqEvents);
      head = (head + 1) % depth;
      if (head === 0) phase ^= 1;
      moved = true;
    }
    if (!moved) return;
    this.#setU16(G.aeqHead, head);
    this.#setU16(G.aeqPhase, phase);
    this.#mmio.doorbell(0, "AEQ", head);
  }

  /** Reaps every CQE of pair `q` whose phase matches, checking order, identity and output. */
  #reap(q: number): void {
    const { depth, jobBytes } = this.#profile;
    const qp = this.layout.qps[q]!;
    const blk = G.qps + q * QP_BLOCK;
    let head = this.#u16(blk + 4) % depth;
    let phase = this.#u16(blk + 6) & 1;
    let doneIdx = this.#u16(blk + 2) % depth;
    let outstanding = this.#u16(blk + 8);
    let reaped = 0;
    for (let i = 0; i < depth; i++) {
      const cqe = decodeCqe(this.#bus.read(qp.cq + head * CQE_BYTES, CQE_BYTES));
      if (cqe.phase !== phase) break;
      const sqeBytes = this.#personality.sqeBytes;
      const sqe = decodeSqe(this.#bus.read(qp.sq + doneIdx * sqeBytes, sqeBytes));
      if (cqe.jobId !== sqe.jobId || cqe.sqHead !== doneIdx || cqe.sqNum !== q)
        this.#bump(G.orderViolations);
      if (!this.#clearBit(cqe.jobId)) this.#bump(G.duplicates);
      if (cqe.status !== JobStatus.OK) this.#bump(G.errors);
      else if (!this.#verify(sqe.op, cqe.jobId, sqe.srcGpa, sqe.dstGpa, cqe.outLen, jobBytes))
        this.#bump(G.verifyFailures);
      reaped++;
      outstanding = Math.max(0, outstanding - 1);
      doneIdx = (doneIdx + 1) % depth;
      head = (head + 1) % depth;
      if (head === 0) phase ^= 1;
    }
    if (reaped === 0) return;
    this.#setU16(blk + 2, doneIdx);
    this.#setU16(blk + 4, head);
    this.#setU16(blk + 6, phase);
    this.#setU16(blk + 8, outstanding);
    this.#bump(G.completed, reaped);
    this.#mmio.doorbell(q, "CQ", head);
  }

  #verify(
    op: number,
    jobId: number,
    srcGpa: number,
    dstGpa: number,
    outLen: number,
    jobBytes: number,
  ): boolean {
    if (!isJobOp(op)) return false;
    // The SQE is read back from guest RAM, which the guest's other vCPUs may have written
    // since the device consumed it: an address outside RAM is the guest's own corruption,
    // a failed check — thrown from tick() it would kill the VMM.
    try {
      const want = computeOutput(op, jobId, this.#bus.read(srcGpa, jobBytes));
      if (outLen !== want.byteLength) return false;
      return Buffer.compare(this.#bus.read(dstGpa, outLen), want) === 0;
    } catch (err) {
      if (err instanceof DmaFaultError) return false;
      throw err;
    }
  }

  /**
   * One guest tick of the built-in workload: service the latch, then submit
   * `draw(seed, tick) % 4` jobs (0–3) on pair `tick % qpNum`.
   */
  step(): void {
    // A VF that lost its setup (a reset, an FLR) is probed again, as a guest driver does.
    if (!this.initialized || !this.#mmio.vfReady()) this.init();
    this.service();
    const tick = this.#u32(G.guestTick);
    this.#setU32(G.guestTick, tick + 1);
    this.submit(tick % this.#profile.qpNum, draw(this.#seed, 0x7375626d, tick) % 4);
  }

  /** The guest's counters. */
  stats(): GuestStats {
    const init = this.initialized;
    const { qpNum } = this.#profile;
    return {
      initialized: init,
      submitted: this.#u32(G.submitted),
      completed: this.#u32(G.completed),
      duplicates: this.#u32(G.duplicates),
      verifyFailures: this.#u32(G.verifyFailures),
      orderViolations: this.#u32(G.orderViolations),
      errors: this.#u32(G.errors),
      aeqEvents: this.#u32(G.aeqEvents),
      wakeups: this.#u32(G.wakeups),
      outstanding: Array.from({ length: qpNum }, (_, q) => this.#u16(G.qps + q * QP_BLOCK + 8)),
      irqLatch: this.#u32(G.irqLatch),
      nextJobId: this.#u32(G.nextJobId),
    };
  }
}
