/**
 * Where the guest driver puts the device's queues and buffers in guest RAM: one region,
 * page aligned, that the guest hands to the device as its DMA window (the device pins it
 * when dirty tracking goes through the IOMMU).
 */
import type { Profile } from "./profiles.js";

/** Bytes of a guest page. */
export const PAGE = 4096;
/** Bytes of a completion queue element (hisi `qm_cqe`). */
export const CQE_BYTES = 16;
/** Bytes of an event queue element (EQE and AEQE). */
export const EQE_BYTES = 4;
/** Bytes of one queue context (hisi `qm_sqc` / `qm_cqc`). */
export const QC_BYTES = 32;
/** Job ids tracked by the guest's outstanding bitmap (ids wrap modulo this). */
export const JOB_BITMAP_BITS = 65536;

const roundUp = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** Guest addresses of one queue pair. */
export interface QpLayout {
  /** The submission queue. */
  readonly sq: number;
  /** The completion queue. */
  readonly cq: number;
  /** The source buffers (`bufSlots` × `jobBytes`). */
  readonly src: number;
  /** The destination buffers (`bufSlots` × `jobBytes`). */
  readonly dst: number;
}

/** Guest addresses of everything the guest driver allocates for the device. */
export interface RegionLayout {
  /** First byte of the region (the DMA window's base). */
  readonly base: number;
  /** Length of the region (the DMA window's size). */
  readonly bytes: number;
  /** The guest driver's own bookkeeping page (never touched by the device). */
  readonly guestPage: number;
  /** Bitmap of outstanding job ids (guest-only). */
  readonly jobBitmap: number;
  /** The SQC table. */
  readonly sqcTable: number;
  /** The CQC table. */
  readonly cqcTable: number;
  /** The event queue. */
  readonly eq: number;
  /** The asynchronous event queue. */
  readonly aeq: number;
  /** Each queue pair's rings and buffers. */
  readonly qps: readonly QpLayout[];
}

/** Lays out the region for `profile` at `base` with `sqeBytes`-byte SQEs. */
export function layoutRegion(base: number, profile: Profile, sqeBytes: number): RegionLayout {
  let at = base;
  const take = (n: number): number => {
    const here = at;
    at += roundUp(n);
    return here;
  };
  const guestPage = take(PAGE);
  const jobBitmap = take(JOB_BITMAP_BITS / 8);
  const sqcTable = take(profile.qpNum * QC_BYTES);
  const cqcTable = take(profile.qpNum * QC_BYTES);
  const eq = take(profile.eqDepth * EQE_BYTES);
  const aeq = take(profile.aeqDepth * EQE_BYTES);
  const qps: QpLayout[] = [];
  for (let q = 0; q < profile.qpNum; q++) {
    qps.push({
      sq: take(profile.depth * sqeBytes),
      cq: take(profile.depth * CQE_BYTES),
      src: take(profile.bufSlots * profile.jobBytes),
      dst: take(profile.bufSlots * profile.jobBytes),
    });
  }
  return { base, bytes: at - base, guestPage, jobBitmap, sqcTable, cqcTable, eq, aeq, qps };
}
