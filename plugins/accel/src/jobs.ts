/**
 * Jobs: what a queue element asks the engine to do, and the pure function it computes.
 *
 * Every output is a function of the job alone (its id and its source bytes), so the guest
 * checks each completion byte for byte by recomputing it, and a job the device aborted and
 * re-ran — on the source or on the target — produces the very same bytes.
 *
 * The output goes to the destination buffer as is; its length travels in the completion
 * entry. A destination whose first word is {@link DST_POISON} holds no output: the guest
 * writes the poison at submit time, so a missing output is visible as such.
 */
import { createCipheriv, createHash } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { draw } from "./hash.js";

/** Operation codes as they appear in a queue element. */
export const JobOp = { COMPRESS: 1, ENCRYPT: 2, HASH: 3 } as const;
/** An operation code. */
export type JobOp = (typeof JobOp)[keyof typeof JobOp];

/** Completion status codes (CQE status field). */
export const JobStatus = {
  OK: 0,
  /** The element named an unknown op, a bad length or a buffer outside the DMA window. */
  BAD_REQUEST: 1,
  /** The output does not fit the destination. */
  OVERFLOW: 2,
  /** An IOMMU fault reading the source or writing the destination. */
  DMA_FAULT: 3,
} as const;

/** First word of a destination buffer that holds no output yet. */
export const DST_POISON = 0xdeadbeef;

/** Longest a job stays in an engine slot, in device ticks. */
export const MAX_SERVICE_TICKS = 5;

/** Device ticks job `jobId` takes: 1..{@link MAX_SERVICE_TICKS}, a pure function of the id. */
export function serviceTicks(jobId: number): number {
  return 1 + (draw(0, 0x73766374, jobId) % MAX_SERVICE_TICKS);
}

/** The op the guest gives job `jobId` (an even spread of the three). */
export function opOf(jobId: number): JobOp {
  return ((draw(0, 0x6f70, jobId) % 3) + 1) as JobOp;
}

/** Whether `op` is a known operation code. */
export function isJobOp(op: number): op is JobOp {
  return op === JobOp.COMPRESS || op === JobOp.ENCRYPT || op === JobOp.HASH;
}

const WORDS = [
  "queue ",
  "pair ",
  "engine ",
  "doorbell ",
  "phase ",
  "event ",
  "deflate ",
  "cipher ",
  "digest ",
  "guest ",
  "page ",
  "iommu ",
  "vfio ",
  "migrate ",
  "drain ",
  "resume ",
].map((w) => new TextEncoder().encode(w));

/**
 * The source bytes of job `jobId` (`length` bytes): words drawn from a small vocabulary
 * with a number now and then, so COMPRESS has something to squeeze and every job differs.
 */
export function sourcePattern(seed: number, jobId: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  let i = 0;
  while (at < length) {
    const d = draw(seed, 0x73726320, jobId, i++);
    const word = WORDS[d & 15]!;
    const n = Math.min(word.byteLength, length - at);
    out.set(word.subarray(0, n), at);
    at += n;
    if ((d >>> 8) % 7 === 0 && at + 4 <= length) {
      new DataView(out.buffer).setUint32(at, d, true);
      at += 4;
    }
  }
  return out;
}

function jobKey(jobId: number): { key: Buffer; iv: Buffer } {
  const material = createHash("sha256").update(`accel-job-key:${jobId}`).digest();
  return { key: material.subarray(0, 16), iv: material.subarray(16, 32) };
}

/**
 * The output of `op` on `src` for job `jobId`: raw deflate at
 * level 1 (deterministic for one zlib build; both hosts of a migration run the same
 * one), AES-128-CTR with a key derived from the job id, or SHA-256.
 */
export function computeOutput(op: JobOp, jobId: number, src: Uint8Array): Uint8Array {
  switch (op) {
    case JobOp.COMPRESS:
      return new Uint8Array(deflateRawSync(src, { level: 1 }));
    case JobOp.ENCRYPT: {
      const { key, iv } = jobKey(jobId);
      const c = createCipheriv("aes-128-ctr", key, iv);
      return new Uint8Array(Buffer.concat([c.update(src), c.final()]));
    }
    case JobOp.HASH:
      return new Uint8Array(createHash("sha256").update(src).digest());
  }
}
