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

/** Bytes of the per-seed text every source is cut from. */
const TEXT_BYTES = 8192;
/** Source bytes between two job stamps. */
const STAMP_EVERY = 256;
const texts = new Map<number, Uint8Array>();

/** 8 KiB of words drawn from a small vocabulary: the seed's "corpus" (cached per seed). */
function textOf(seed: number): Uint8Array {
  let text = texts.get(seed);
  if (text !== undefined) return text;
  text = new Uint8Array(TEXT_BYTES);
  let at = 0;
  for (let i = 0; at < TEXT_BYTES; i++) {
    const word = WORDS[draw(seed, 0x74657874, i) & 15]!;
    const n = Math.min(word.byteLength, TEXT_BYTES - at);
    text.set(word.subarray(0, n), at);
    at += n;
  }
  if (texts.size > 64) texts.clear();
  texts.set(seed, text);
  return text;
}

/**
 * The source bytes of job `jobId` (`length` bytes): the seed's text from an offset drawn
 * from the job id, with a stamp of (job id, position) every 256 bytes, so COMPRESS has
 * something to squeeze, every job differs, and building 64 KiB costs a few copies.
 */
export function sourcePattern(seed: number, jobId: number, length: number): Uint8Array {
  const text = textOf(seed);
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  let from = draw(seed, 0x73726320, jobId) % TEXT_BYTES;
  for (let at = 0; at < length; at += STAMP_EVERY) {
    const n = Math.min(STAMP_EVERY, length - at);
    const first = Math.min(n, TEXT_BYTES - from);
    out.set(text.subarray(from, from + first), at);
    if (first < n) out.set(text.subarray(0, n - first), at + first);
    from = (from + n) % TEXT_BYTES;
    if (n >= 8) {
      v.setUint32(at, jobId, true);
      v.setUint32(at + 4, at, true);
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
