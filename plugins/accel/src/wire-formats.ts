/**
 * The little-endian structures device and guest exchange through guest memory: queue
 * elements, completion and event entries, queue contexts. Decoders never trust memory:
 * guest RAM may hold anything (another vCPU may have scribbled over it), so every field
 * is returned raw and range-checked by the user.
 */

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A submission queue element (the fields this model uses; the rest of the SQE is 0). */
export interface Sqe {
  /** The guest's job id (the CQE's `cmd_id`). */
  readonly jobId: number;
  /** Operation code (`JobOp`). */
  readonly op: number;
  /** Guest-physical address of the source bytes. */
  readonly srcGpa: number;
  /** Guest-physical address of the destination buffer. */
  readonly dstGpa: number;
  /** Source length in bytes. */
  readonly srcLen: number;
  /** Destination capacity in bytes. */
  readonly dstCap: number;
}

/** Encodes `sqe` into an element of `sqeBytes` bytes. */
export function encodeSqe(sqe: Sqe, sqeBytes: number): Uint8Array {
  const out = new Uint8Array(sqeBytes);
  const v = dv(out);
  v.setUint32(0, sqe.jobId, true);
  v.setUint8(4, sqe.op);
  v.setBigUint64(8, BigInt(sqe.srcGpa), true);
  v.setBigUint64(16, BigInt(sqe.dstGpa), true);
  v.setUint32(24, sqe.srcLen, true);
  v.setUint32(28, sqe.dstCap, true);
  return out;
}

/** Decodes an SQE (addresses above 2^53 come back as +Infinity so range checks refuse them). */
export function decodeSqe(b: Uint8Array): Sqe {
  const v = dv(b);
  const addr = (at: number): number => {
    const x = v.getBigUint64(at, true);
    return x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(x);
  };
  return {
    jobId: v.getUint32(0, true),
    op: v.getUint8(4),
    srcGpa: addr(8),
    dstGpa: addr(16),
    srcLen: v.getUint32(24, true),
    dstCap: v.getUint32(28, true),
  };
}

/** A completion queue element (hisi `qm_cqe`: cmd_id, sq_head, sq_num, w7 = phase | status). */
export interface Cqe {
  /** Job id of the completed element. */
  readonly jobId: number;
  /** SQ index of the completed element. */
  readonly sqHead: number;
  /** Queue pair number. */
  readonly sqNum: number;
  /** Output length in the destination buffer. */
  readonly outLen: number;
  /** Phase bit (flips each lap of the CQ). */
  readonly phase: number;
  /** `JobStatus`. */
  readonly status: number;
}

/** Encodes a CQE (16 bytes). */
export function encodeCqe(c: Cqe): Uint8Array {
  const out = new Uint8Array(16);
  const v = dv(out);
  v.setUint32(0, c.jobId, true);
  v.setUint16(4, c.sqHead, true);
  v.setUint16(6, c.sqNum, true);
  v.setUint32(8, c.outLen, true);
  v.setUint16(12, (c.phase & 1) | ((c.status & 0x7fff) << 1), true);
  return out;
}

/** Decodes a CQE. */
export function decodeCqe(b: Uint8Array): Cqe {
  const v = dv(b);
  const w7 = v.getUint16(12, true);
  return {
    jobId: v.getUint32(0, true),
    sqHead: v.getUint16(4, true),
    sqNum: v.getUint16(6, true),
    outLen: v.getUint32(8, true),
    phase: w7 & 1,
    status: w7 >>> 1,
  };
}

/** An event queue entry: the queue number in bits 0–15, the phase in bit 16, a type in 17–24. */
export interface Eqe {
  /** Queue pair the event is about. */
  readonly qn: number;
  /** Phase bit (flips each lap of the queue). */
  readonly phase: number;
  /** AEQE type (`AeqType`); 0 for EQEs. */
  readonly type: number;
}

/** Encodes an EQE/AEQE (4 bytes). */
export function encodeEqe(e: Eqe): Uint8Array {
  const out = new Uint8Array(4);
  dv(out).setUint32(
    0,
    ((e.qn & 0xffff) | ((e.phase & 1) << 16) | ((e.type & 0xff) << 17)) >>> 0,
    true,
  );
  return out;
}

/** Decodes an EQE/AEQE. */
export function decodeEqe(b: Uint8Array): Eqe {
  const w = dv(b).getUint32(0, true);
  return { qn: w & 0xffff, phase: (w >>> 16) & 1, type: (w >>> 17) & 0xff };
}

/** A queue context as it sits in the SQC/CQC tables (32 bytes). */
export interface QueueContext {
  /** Guest-physical base of the ring. */
  readonly base: number;
  /** Consumer index. */
  readonly head: number;
  /** Producer index. */
  readonly tail: number;
  /** Entries in the ring. */
  readonly depth: number;
  /** Bytes per entry. */
  readonly entryBytes: number;
  /** Ring holds `depth` entries (head = tail is then full, not empty). */
  readonly full: boolean;
  /** Phase the producer writes next (CQ only; 1 after reset). */
  readonly phase: number;
}

/** Encodes a queue context. */
export function encodeQueueContext(c: QueueContext): Uint8Array {
  const out = new Uint8Array(32);
  const v = dv(out);
  v.setBigUint64(0, BigInt(c.base), true);
  v.setUint16(8, c.head, true);
  v.setUint16(10, c.tail, true);
  v.setUint16(12, c.depth, true);
  v.setUint16(14, c.entryBytes, true);
  v.setUint32(16, (c.full ? 1 : 0) | ((c.phase & 1) << 1), true);
  return out;
}

/** Decodes a queue context. */
export function decodeQueueContext(b: Uint8Array): QueueContext {
  const v = dv(b);
  const base = v.getBigUint64(0, true);
  const flags = v.getUint32(16, true);
  return {
    base: base > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(base),
    head: v.getUint16(8, true),
    tail: v.getUint16(10, true),
    depth: v.getUint16(12, true),
    entryBytes: v.getUint16(14, true),
    full: (flags & 1) !== 0,
    phase: (flags >>> 1) & 1,
  };
}
