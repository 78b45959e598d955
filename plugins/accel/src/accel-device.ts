/**
 * The accelerator VF itself: queue pairs whose rings and contexts live in guest memory,
 * a device-side cache of those contexts, engine slots with jobs in flight, an event queue
 * and an asynchronous event queue with their interrupts.
 *
 * Pure device logic over a {@link DeviceBus}; the driver supplies the bus (DMA through
 * the base class's helpers, interrupts through the context) and the migration hooks.
 */
import { MdevError } from "@mdevkit/core";
import {
  type AccelDeviceState,
  AEQ_VECTOR,
  AeqType,
  type DmaWindow,
  EQ_VECTOR,
  POWER_ON_REGS,
  type QmRegName,
  type QmRegs,
  QmState,
  type QpState,
} from "./device-state.js";
import { computeOutput, isJobOp, JobStatus, serviceTicks } from "./jobs.js";
import { CQE_BYTES, EQE_BYTES, QC_BYTES } from "./layout.js";
import { ENGINE_SLOTS, type Personality, type Profile } from "./profiles.js";
import { Ring, type RingState, restoreRequestRing, restoreResponseRing, statOf } from "./ring.js";
import {
  decodeQueueContext,
  decodeSqe,
  encodeCqe,
  encodeEqe,
  encodeQueueContext,
  type Sqe,
} from "./wire-formats.js";

/** How the device reaches guest memory and the guest's interrupt controller. */
export interface DeviceBus {
  /** DMA read; `undefined` on an IOMMU fault. */
  read(gpa: number, length: number): Uint8Array | undefined;
  /** DMA write; false on an IOMMU fault. */
  write(gpa: number, data: Uint8Array): boolean;
  /** Raises MSI vector `vector`. */
  raise(vector: number): void;
}

/** A job in an engine slot. */
interface EngineSlot {
  readonly sqIdx: number;
  readonly sqe: Sqe;
  remaining: number;
  /** What the engine worked out when it took the job; written to the guest at completion. */
  readonly work: JobWork;
}

/** A job's outcome before its completion: a status, and the output when it succeeded. */
interface JobWork {
  readonly status: number;
  readonly out?: Uint8Array;
}

/** One queue pair's live context (the device cache). */
interface Qp {
  readonly qpn: number;
  sq: Ring;
  cq: Ring;
  arbEnable: boolean;
  slots: EngineSlot[];
  completionsSinceWriteBack: number;
}

/** What a stop did with the jobs in flight. */
export interface QuiesceResult {
  /** Jobs completed by the stop (drain). */
  readonly completed: number;
  /** Jobs aborted and rewound (checkpoint, or drain blocked by a full CQ/EQ). */
  readonly aborted: number;
}

/** Mailbox commands (hisi `QM_MB_CMD_*`). */
export type MailboxCommand =
  | { readonly cmd: "SQC_BT"; readonly gpa: number }
  | { readonly cmd: "CQC_BT"; readonly gpa: number }
  | { readonly cmd: "EQC"; readonly gpa: number; readonly depth: number }
  | { readonly cmd: "AEQC"; readonly gpa: number; readonly depth: number }
  | { readonly cmd: "QP_START"; readonly qpn: number }
  | { readonly cmd: "VF_READY" };

/** Doorbell kinds (hisi `QM_DOORBELL_CMD_*`). */
export type DoorbellCmd = "SQ" | "CQ" | "EQ" | "AEQ";

/** Completions between two write-backs of a pair's contexts from the cache. */
export const WRITE_BACK_EVERY = 8;

/** Static description of a device. */
export interface AccelDeviceConfig {
  /** Identity and capabilities. */
  readonly personality: Personality;
  /** Sizes. */
  readonly profile: Profile;
  /** Guest RAM size: every programmed address must fall inside it. */
  readonly guestBytes: number;
  /** Re-signal pending events on start (the hisi fix); false only in lost-wake-up tests. */
  readonly resignal: boolean;
}

function einval(msg: string): never {
  throw new MdevError("EINVAL", `accel: ${msg}`);
}

/** The device model. */
export class AccelDevice {
  /** Static description. */
  readonly config: AccelDeviceConfig;
  readonly #bus: DeviceBus;
  #qmState: QmState = QmState.NOT_READY;
  #regs: QmRegs = { ...POWER_ON_REGS };
  #window: DmaWindow = { base: 0, bytes: 0 };
  #eq = new Ring(0, 1);
  #aeq = new Ring(0, 1);
  #sqcTable = 0;
  #cqcTable = 0;
  #qps: Qp[];
  #pendingIrq = { eq: false, aeq: false };
  /** Events written this tick whose interrupt is due. */
  #due = { eq: false, aeq: false };
  /** Set by {@link start}: recheck the event queues and resend their interrupts. */
  #resignal = false;
  /** Register writes of the last restore, in order (the restore-order trace). */
  lastRestoreTrace: string[] = [];
  /** Interrupts raised by re-signalling since creation (tests bound them). */
  resignalsRaised = 0;

  constructor(config: AccelDeviceConfig, bus: DeviceBus) {
    this.config = config;
    this.#bus = bus;
    this.#qps = this.#freshQps();
  }

  #freshQps(): Qp[] {
    const { qpNum, depth } = this.config.profile;
    return Array.from({ length: qpNum }, (_, qpn) => ({
      qpn,
      sq: new Ring(0, depth),
      cq: new Ring(0, depth),
      arbEnable: false,
      slots: [],
      completionsSinceWriteBack: 0,
    }));
  }

  // ---- guest-facing interface (MMIO) ----

  /** The guest hands the device its DMA window. Returns the previous one (to unpin). */
  setWindow(base: number, bytes: number): DmaWindow {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(bytes) || base % 4096 !== 0)
      einval(`DMA window ${base}+${bytes} is not page aligned`);
    if (bytes <= 0 || bytes % 4096 !== 0 || base + bytes > this.config.guestBytes)
      einval(`DMA window ${base}+${bytes} does not fit guest RAM of ${this.config.guestBytes}`);
    const old = this.#window;
    this.#window = { base, bytes };
    return old;
  }

  /** A guest register write. */
  writeReg(name: QmRegName, value: number): void {
    if (!(name in POWER_ON_REGS)) einval(`no register "${name}"`);
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
      einval(`register value ${value} is not a u32`);
    this.#regs = { ...this.#regs, [name]: value };
    // Unmasking with an event pending delivers it on the next tick.
    if (name === "eqIntMask" && value === 0 && this.#pendingIrq.eq) this.#due.eq = true;
    if (name === "aeqIntMask" && value === 0 && this.#pendingIrq.aeq) this.#due.aeq = true;
  }

  /** A mailbox command. Only QP_START touches guest memory (it loads the contexts). */
  mailbox(m: MailboxCommand): void {
    switch (m.cmd) {
      case "SQC_BT":
        this.#checkRange(m.gpa, this.config.profile.qpNum * QC_BYTES, "SQC table");
        this.#sqcTable = m.gpa;
        return;
      case "CQC_BT":
        this.#checkRange(m.gpa, this.config.profile.qpNum * QC_BYTES, "CQC table");
        this.#cqcTable = m.gpa;
        return;
      case "EQC":
      case "AEQC": {
        const max = m.cmd === "EQC" ? this.config.profile.eqDepth : this.config.profile.aeqDepth;
        if (!Number.isInteger(m.depth) || m.depth < 2 || m.depth > max)
          einval(`${m.cmd} depth ${m.depth} outside 2..${max}`);
        this.#checkRange(m.gpa, m.depth * EQE_BYTES, m.cmd);
        if (m.cmd === "EQC") this.#eq = new Ring(m.gpa, m.depth);
        else this.#aeq = new Ring(m.gpa, m.depth);
        return;
      }
      case "QP_START":
        this.#startQp(m.qpn);
        return;
      case "VF_READY":
        this.#qmState = QmState.READY;
        return;
    }
  }

  /** A doorbell: SQ/EQ/AEQ carry the new tail/head index as the hardware defines them. */
  doorbell(qn: number, cmd: DoorbellCmd, index: number): void {
    if (cmd === "EQ" || cmd === "AEQ") {
      const ring = cmd === "EQ" ? this.#eq : this.#aeq;
      if (!Number.isInteger(index) || index < 0 || index >= ring.depth)
        einval(`${cmd} doorbell index ${index} outside 0..${ring.depth - 1}`);
      ring.writeHead(index);
      return;
    }
    const qp = this.#qps[qn];
    if (qp === undefined || !Number.isInteger(qn))
      einval(`doorbell for queue ${qn}, which does not exist`);
    if (!Number.isInteger(index) || index < 0 || index >= qp.sq.depth)
      einval(`${cmd} doorbell index ${index} outside 0..${qp.sq.depth - 1}`);
    if (cmd === "SQ") qp.sq.writeTail(index);
    else qp.cq.writeHead(index);
  }

  #checkRange(gpa: number, bytes: number, what: string): void {
    const w = this.#window;
    if (!Number.isSafeInteger(gpa) || gpa < w.base || gpa + bytes > w.base + w.bytes)
      einval(`${what} at 0x${gpa.toString(16)} (+${bytes}) is outside the DMA window`);
  }

  #inWindow(gpa: number, bytes: number): boolean {
    const w = this.#window;
    return Number.isSafeInteger(gpa) && gpa >= w.base && gpa + bytes <= w.base + w.bytes;
  }

  /** Loads pair `qpn`'s contexts from the guest tables into the cache and enables fetching. */
  #startQp(qpn: number): void {
    const qp = this.#qps[qpn];
    if (qp === undefined) einval(`QP_START for queue ${qpn}, which does not exist`);
    const { depth } = this.config.profile;
    const sqcBytes = this.#bus.read(this.#sqcTable + qpn * QC_BYTES, QC_BYTES);
    const cqcBytes = this.#bus.read(this.#cqcTable + qpn * QC_BYTES, QC_BYTES);
    if (sqcBytes === undefined || cqcBytes === undefined)
      throw new MdevError("EFAULT", `accel: reading queue ${qpn}'s contexts faulted`);
    const sqc = decodeQueueContext(sqcBytes);
    const cqc = decodeQueueContext(cqcBytes);
    const sqe = this.config.personality.sqeBytes;
    if (sqc.depth !== depth || cqc.depth !== depth) einval(`queue ${qpn} depth is not ${depth}`);
    if (sqc.entryBytes !== sqe || cqc.entryBytes !== CQE_BYTES)
      einval(`queue ${qpn} entry sizes ${sqc.entryBytes}/${cqc.entryBytes}`);
    if (sqc.head >= depth || sqc.tail >= depth || cqc.head >= depth || cqc.tail >= depth)
      einval(`queue ${qpn} pointers out of range`);
    this.#checkRange(sqc.base, depth * sqe, `queue ${qpn} SQ`);
    this.#checkRange(cqc.base, depth * CQE_BYTES, `queue ${qpn} CQ`);
    qp.sq = Object.assign(new Ring(sqc.base, depth), {
      head: sqc.head,
      tail: sqc.tail,
      full: sqc.full,
    });
    qp.cq = Object.assign(new Ring(cqc.base, depth), {
      head: cqc.head,
      tail: cqc.tail,
      full: cqc.full,
      phase: cqc.phase,
    });
    qp.slots = [];
    qp.completionsSinceWriteBack = 0;
    qp.arbEnable = true;
  }

  // ---- device work ----

  /** Jobs in engine slots, all pairs. */
  get inFlight(): number {
    return this.#qps.reduce((n, q) => n + q.slots.length, 0);
  }

  /** One tick of device work: re-signal, progress, complete in order, fetch, interrupts. */
  tick(): void {
    if (this.#resignal) {
      this.#resignal = false;
      if (isSet(this.#eq) && !this.#eq.empty) this.#resignalQueue("eq");
      if (isSet(this.#aeq) && !this.#aeq.empty) this.#resignalQueue("aeq");
    }
    for (const qp of this.#qps) {
      if (!qp.arbEnable && qp.slots.length === 0) continue;
      for (const s of qp.slots) s.remaining--;
      while (qp.slots.length > 0 && qp.slots[0]!.remaining <= 0) {
        if (!this.#complete(qp, qp.slots[0]!)) break;
        qp.slots.shift();
      }
      while (qp.arbEnable && qp.slots.length < ENGINE_SLOTS && !qp.sq.empty) this.#fetch(qp);
    }
    this.#deliver();
  }

  #resignalQueue(which: "eq" | "aeq"): void {
    this.#due[which] = true;
    this.resignalsRaised++;
  }

  #fetch(qp: Qp): void {
    const sqeBytes = this.config.personality.sqeBytes;
    const raw = this.#bus.read(qp.sq.baseGpa + qp.sq.head * sqeBytes, sqeBytes);
    if (raw === undefined) {
      // The pair stops; the guest learns why from the AEQ.
      qp.arbEnable = false;
      this.#postEvent(this.#aeq, "aeq", qp.qpn, AeqType.SQE_FAULT);
      return;
    }
    const sqe = decodeSqe(raw);
    // The engine reads the source and computes as it takes the job, as hardware does; the
    // service ticks are its latency. A stop's drain then only writes out what is done:
    // computing every job in flight there put the simulation's deflate and cipher work
    // in the VM's paused window (0.1-1.4 ms a device), work a real engine does beside the CPU.
    qp.slots.push({
      sqIdx: qp.sq.head,
      sqe,
      remaining: serviceTicks(sqe.jobId),
      work: this.#work(sqe),
    });
    qp.sq.consume();
  }

  /** Runs job `slot` and posts its completion; false when the CQ or EQ has no room. */
  #complete(qp: Qp, slot: EngineSlot): boolean {
    if (qp.cq.count === qp.cq.depth || (isSet(this.#eq) && this.#eq.count === this.#eq.depth))
      return false;
    const { status, outLen } = this.#writeOutput(slot);
    const cqe = encodeCqe({
      jobId: slot.sqe.jobId,
      sqHead: slot.sqIdx,
      sqNum: qp.qpn,
      outLen,
      phase: qp.cq.phase,
      status,
    });
    this.#bus.write(qp.cq.baseGpa + qp.cq.tail * CQE_BYTES, cqe);
    qp.cq.produce();
    this.#postEvent(this.#eq, "eq", qp.qpn, 0);
    if (++qp.completionsSinceWriteBack >= WRITE_BACK_EVERY) this.#writeBack(qp);
    return true;
  }

  /** The job's output DMA-written to its destination (a fault turns OK into DMA_FAULT). */
  #writeOutput({ sqe, work }: EngineSlot): { status: number; outLen: number } {
    if (work.out === undefined) return { status: work.status, outLen: 0 };
    if (!this.#bus.write(sqe.dstGpa, work.out)) return { status: JobStatus.DMA_FAULT, outLen: 0 };
    return { status: JobStatus.OK, outLen: work.out.byteLength };
  }

  /** Checks the job, reads its source and computes its output. */
  #work(sqe: Sqe): JobWork {
    const { jobBytes } = this.config.profile;
    const algBit = 1n << BigInt(sqe.op - 1);
    if (
      !isJobOp(sqe.op) ||
      (this.config.personality.algMask & algBit) === 0n ||
      sqe.srcLen === 0 ||
      sqe.srcLen > jobBytes ||
      sqe.dstCap > jobBytes ||
      !this.#inWindow(sqe.srcGpa, sqe.srcLen) ||
      !this.#inWindow(sqe.dstGpa, sqe.dstCap)
    ) {
      return { status: JobStatus.BAD_REQUEST };
    }
    const src = this.#bus.read(sqe.srcGpa, sqe.srcLen);
    if (src === undefined) return { status: JobStatus.DMA_FAULT };
    const out = computeOutput(sqe.op, sqe.jobId, src);
    if (out.byteLength > sqe.dstCap) return { status: JobStatus.OVERFLOW };
    return { status: JobStatus.OK, out };
  }

  #postEvent(ring: Ring, which: "eq" | "aeq", qn: number, type: number): void {
    // No queue programmed, or an AEQ overflow: the event is dropped, as hardware does.
    if (!isSet(ring) || ring.count === ring.depth) return;
    this.#bus.write(
      ring.baseGpa + ring.tail * EQE_BYTES,
      encodeEqe({ qn, phase: ring.phase, type }),
    );
    ring.produce();
    this.#due[which] = true;
  }

  /** Raises the interrupts due (one per queue per tick: coalesced), or latches them if masked. */
  #deliver(): void {
    if (this.#due.eq) {
      this.#due.eq = false;
      if (this.#regs.eqIntMask === 0) {
        this.#pendingIrq.eq = false;
        this.#bus.raise(EQ_VECTOR);
      } else this.#pendingIrq.eq = true;
    }
    if (this.#due.aeq) {
      this.#due.aeq = false;
      if (this.#regs.aeqIntMask === 0) {
        this.#pendingIrq.aeq = false;
        this.#bus.raise(AEQ_VECTOR);
      } else this.#pendingIrq.aeq = true;
    }
  }

  /** Writes pair `qp`'s cached SQC and CQC back to the guest tables. */
  #writeBack(qp: Qp): void {
    qp.completionsSinceWriteBack = 0;
    if (!qp.arbEnable && qp.sq.baseGpa === 0) return; // never started: nothing cached
    const sqe = this.config.personality.sqeBytes;
    const ctx = (r: Ring, entryBytes: number) =>
      encodeQueueContext({
        base: r.baseGpa,
        head: r.head,
        tail: r.tail,
        depth: r.depth,
        entryBytes,
        full: r.full,
        phase: r.phase,
      });
    this.#bus.write(this.#sqcTable + qp.qpn * QC_BYTES, ctx(qp.sq, sqe));
    this.#bus.write(this.#cqcTable + qp.qpn * QC_BYTES, ctx(qp.cq, CQE_BYTES));
  }

  // ---- stop and start ----

  /**
   * Quiesces the device for STOP: stop fetching; `drain` completes every job in flight in
   * order (outputs, CQEs, EQEs), `checkpoint` aborts them and rewinds each SQ head to the
   * oldest unfinished element (no output is written for an aborted job); then due
   * interrupts are raised and every context is written back. Afterwards nothing is left
   * to do: no slot holds a job, the cache holds nothing the guest tables lack.
   */
  quiesce(policy: "drain" | "checkpoint"): QuiesceResult {
    let completed = 0;
    let aborted = 0;
    for (const qp of this.#qps) {
      if (policy === "drain") {
        while (qp.slots.length > 0 && this.#complete(qp, qp.slots[0]!)) {
          qp.slots.shift();
          completed++;
        }
      }
      // Checkpoint, or a drain blocked by a full CQ/EQ: the rest goes back to the SQ.
      if (qp.slots.length > 0) {
        aborted += qp.slots.length;
        qp.sq.rewind(qp.slots.length);
        qp.slots = [];
      }
    }
    this.#deliver();
    if (this.#qmState === QmState.READY) for (const qp of this.#qps) this.#writeBack(qp);
    return { completed, aborted };
  }

  /** Start (or restart after a stop or a load): re-signal pending events on the next tick. */
  start(): void {
    this.#resignal = this.config.resignal;
  }

  // ---- state ----

  /** The whole state as plain data (engine slots excluded: they are empty after a quiesce). */
  snapshot(): AccelDeviceState {
    return {
      qmState: this.#qmState,
      regs: { ...this.#regs },
      window: { ...this.#window },
      eq: this.#eq.snapshot(),
      aeq: this.#aeq.snapshot(),
      sqcTableGpa: this.#sqcTable,
      cqcTableGpa: this.#cqcTable,
      qps: this.#qps.map(
        (q): QpState => ({
          qpn: q.qpn,
          sq: q.sq.snapshot(),
          cq: q.cq.snapshot(),
          arbEnable: q.arbEnable,
        }),
      ),
      pendingIrq: { ...this.#pendingIrq },
    };
  }

  /**
   * Applies `s` in the safe order (QAT `bank_state_restore`, hisi `vf_qm_load_data`):
   * window and registers, event-queue contexts, table bases, then per pair the ring bases,
   * the ring configs and the pointers with their empty/full fix-ups, then the interrupt
   * state, and the arbiter (fetch enable) last. Each ring's status is verified against the
   * saved one. Builds the new cache aside and swaps it in only when all of it checked out.
   * @throws MdevError EIO when a restored ring's status differs from the saved status.
   */
  restore(s: AccelDeviceState): void {
    const trace: string[] = [];
    const step = (what: string) => trace.push(what);
    step("window");
    step("regs");
    const eq = restoreEventQueue(s.eq, (w) => step(`eq.${w}`));
    const aeq = restoreEventQueue(s.aeq, (w) => step(`aeq.${w}`));
    step("sqc_bt");
    step("cqc_bt");
    const qps: Qp[] = s.qps.map((q) => {
      const sq = new Ring(q.sq.baseGpa, q.sq.depth);
      const cq = new Ring(q.cq.baseGpa, q.cq.depth);
      step(`qp${q.qpn}.base`);
      step(`qp${q.qpn}.config`);
      restoreRequestRing(sq, q.sq, (w) => step(`qp${q.qpn}.sq.${w}`));
      restoreResponseRing(cq, q.cq, (w) => step(`qp${q.qpn}.cq.${w}`));
      for (const [ring, saved, name] of [
        [sq, q.sq, "SQ"],
        [cq, q.cq, "CQ"],
      ] as const) {
        const got = ring.stat();
        const want = statOf(saved);
        if (got.empty !== want.empty || got.full !== want.full || got.nearFull !== want.nearFull)
          throw new MdevError("EIO", `accel: queue ${q.qpn} ${name} status differs after restore`);
      }
      return { qpn: q.qpn, sq, cq, arbEnable: false, slots: [], completionsSinceWriteBack: 0 };
    });
    step("irq");
    s.qps.forEach((q, i) => {
      qps[i]!.arbEnable = q.arbEnable;
    });
    step("arb");
    this.#qmState = s.qmState;
    this.#regs = { ...s.regs };
    this.#window = { ...s.window };
    this.#eq = eq;
    this.#aeq = aeq;
    this.#sqcTable = s.sqcTableGpa;
    this.#cqcTable = s.cqcTableGpa;
    this.#qps = qps;
    this.#pendingIrq = { ...s.pendingIrq };
    this.#due = { eq: false, aeq: false };
    this.#resignal = false;
    this.lastRestoreTrace = trace;
  }

  /** Back to power-on: no guest driver, nothing programmed. */
  reset(): void {
    this.#qmState = QmState.NOT_READY;
    this.#regs = { ...POWER_ON_REGS };
    this.#window = { base: 0, bytes: 0 };
    this.#eq = new Ring(0, 1);
    this.#aeq = new Ring(0, 1);
    this.#sqcTable = 0;
    this.#cqcTable = 0;
    this.#qps = this.#freshQps();
    this.#pendingIrq = { eq: false, aeq: false };
    this.#due = { eq: false, aeq: false };
    this.#resignal = false;
  }

  /** `QM_VF_STATE`. */
  get qmState(): QmState {
    return this.#qmState;
  }

  /** The DMA window currently programmed. */
  get window(): DmaWindow {
    return this.#window;
  }
}

/** Whether an event queue was programmed (power-on queues are a 1-entry placeholder). */
function isSet(ring: Ring): boolean {
  return ring.depth >= 2;
}

function restoreEventQueue(saved: RingState, step: (w: string) => void): Ring {
  const r = new Ring(saved.baseGpa, saved.depth);
  restoreResponseRing(r, saved, step);
  return r;
}
