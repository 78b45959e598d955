import { crc32c } from "@node-rs/crc32";
import { StreamError } from "../errors/stream-error.js";
import { copyBytes } from "../memory/shared-copy.js";
import { crc32cExtendPages } from "./crc32c-combine.js";
import { PAGE_SIZE, RamRunFlags } from "./format.js";
import type { StreamedPayload } from "./frame-reader.js";
import { crc32cPages } from "./page-crc.js";
import {
  countDataPages,
  kindsLength,
  RAM_RUN_HEAD_LENGTH,
  ramPagesBody,
} from "./ram-pages-codec.js";
import type { RamPagesBody } from "./records.js";
import type { StreamLimits } from "./stream-limits.js";

/**
 * Guest memory as a decoder writes RAM_PAGES data into it (a `GuestMemory` is one): bytes
 * live in segments of `segmentSize`, and `view` gives a writable view of a range inside one.
 */
export interface RamSink {
  readonly segmentSize: number;
  view(gpa: number, length: number): Uint8Array;
}

/**
 * Decides from the first bytes of a RAM_PAGES payload whether it can be written straight
 * into `sink` as it arrives: the head must be sound (no flag outside `allowedFlags`, count within the limit,
 * the run inside guest RAM, bitmap padding clear, length exactly head + data pages).
 * Answers the prefix length still needed, a writer for the rest, or `undefined` — the
 * ordinary path then assembles the record and reports whatever is wrong, CRC first, so a
 * stream is refused with the same error either way.
 *
 * The data reaches guest memory before the frame's CRC is known: that is safe because a
 * target never runs a VM whose stream failed, and the page range was checked first.
 */
export function probeRamPages(
  sink: RamSink,
  limits: StreamLimits,
  guestPages: number,
  allowedFlags: number,
  offset: number,
  length: number,
  prefix: Uint8Array,
): number | StreamedPayload | undefined {
  if (prefix.byteLength < RAM_RUN_HEAD_LENGTH) return RAM_RUN_HEAD_LENGTH;
  const v = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const high = v.getUint32(4, true);
  const startPage = v.getUint32(0, true) + high * 2 ** 32;
  const count = v.getUint32(8, true);
  const flags = v.getUint32(12, true);
  if ((flags & ~allowedFlags) !== 0 || count === 0 || count > limits.maxPagesPerRun)
    return undefined;
  if (high >= 2 ** 21 || startPage >= guestPages || count > guestPages - startPage)
    return undefined;
  const head = RAM_RUN_HEAD_LENGTH + kindsLength(count);
  if (length < head) return undefined;
  if (prefix.byteLength < head) return head;
  const kinds = prefix.slice(RAM_RUN_HEAD_LENGTH, head);
  const padBits = kinds.length * 8 - count;
  if (padBits > 0 && (kinds[kinds.length - 1] as number) >> (8 - padBits) !== 0) return undefined;
  const dataPages = countDataPages(kinds);
  if (dataPages === 0 || length !== head + dataPages * PAGE_SIZE) return undefined;
  return new RamPagesWriter(
    sink,
    offset,
    prefix.slice(0, head),
    startPage,
    count,
    kinds,
    dataPages,
    (flags & RamRunFlags.SPARSE) !== 0,
  );
}

/** `data` of a record whose pages went straight into guest memory. */
const NO_DATA = new Uint8Array(0);

/**
 * Writes a RAM_PAGES run's data pages into guest memory as the payload arrives, hashing
 * each page once it is whole (from guest memory, while it is still in cache), and checks
 * the frame CRC from those page CRCs at the end.
 */
class RamPagesWriter implements StreamedPayload {
  readonly #sink: RamSink;
  readonly #offset: number;
  readonly #head: Uint8Array;
  readonly #startPage: number;
  readonly #count: number;
  readonly #kinds: Uint8Array;
  readonly #crcs: Uint32Array;
  /** Guest byte address where each data page goes, in order. */
  readonly #targets: Float64Array;
  /** Data bytes received so far. */
  #received = 0;
  readonly #sparse: boolean;

  constructor(
    sink: RamSink,
    offset: number,
    head: Uint8Array,
    startPage: number,
    count: number,
    kinds: Uint8Array,
    dataPages: number,
    sparse: boolean,
  ) {
    this.#sparse = sparse;
    this.#sink = sink;
    this.#offset = offset;
    this.#head = head;
    this.#startPage = startPage;
    this.#count = count;
    this.#kinds = kinds;
    this.#crcs = new Uint32Array(dataPages);
    this.#targets = new Float64Array(dataPages);
    for (let i = 0, j = 0; i < count; i++)
      if ((((kinds[i >> 3] as number) >> (i & 7)) & 1) === 1)
        this.#targets[j++] = (startPage + i) * PAGE_SIZE;
  }

  write(bytes: Uint8Array): void {
    const targets = this.#targets;
    const segmentSize = this.#sink.segmentSize;
    let pos = 0;
    while (pos < bytes.byteLength) {
      const j = Math.floor(this.#received / PAGE_SIZE);
      const within = this.#received - j * PAGE_SIZE;
      const gpa = (targets[j] as number) + within;
      // Extend over following data pages that are adjacent in guest memory and in one
      // segment, so consecutive pages cost one copy.
      let pages = 1;
      const segmentEnd = (Math.floor(gpa / segmentSize) + 1) * segmentSize;
      while (
        j + pages < targets.length &&
        targets[j + pages] === (targets[j] as number) + pages * PAGE_SIZE &&
        (targets[j + pages] as number) < segmentEnd
      )
        pages++;
      const take = Math.min(bytes.byteLength - pos, pages * PAGE_SIZE - within);
      const dest = this.#sink.view(gpa, take);
      copyBytes(dest, bytes.subarray(pos, pos + take));
      pos += take;
      const before = this.#received;
      this.#received += take;
      // Hash every page this copy completed: page k is whole once (k + 1) pages arrived.
      const done = Math.floor(this.#received / PAGE_SIZE);
      let k = j;
      if (k < done && k * PAGE_SIZE < before) {
        // Begun by an earlier piece: hashed from guest memory.
        this.#crcs[k] = crc32c(this.#sink.view(targets[k] as number, PAGE_SIZE) as Buffer);
        k++;
      }
      // The rest lie whole in `dest`, one after the other.
      if (k < done) {
        const from = k * PAGE_SIZE - before;
        crc32cPages(dest.subarray(from, from + (done - k) * PAGE_SIZE), this.#crcs, k);
      }
    }
  }

  finish(frameHeadCrc: number, expected: number): RamPagesBody {
    const crc = crc32cExtendPages(crc32c(this.#head as Buffer, frameHeadCrc), this.#crcs);
    if (crc !== expected)
      throw new StreamError("EBADMSG", "RAM_PAGES", this.#offset, "crc", "record CRC32C mismatch");
    return ramPagesBody(
      this.#startPage,
      this.#count,
      this.#kinds,
      this.#sparse,
      NO_DATA,
      this.#crcs,
      true,
    );
  }
}
