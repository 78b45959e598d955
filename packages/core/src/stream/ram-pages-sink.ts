import { crc32c } from "@node-rs/crc32";
import { StreamError } from "../errors/stream-error.js";
import { copyBytes } from "../memory/shared-copy.js";
import { crc32cExtendPages } from "./crc32c-combine.js";
import { PAGE_SIZE, RamRunFlags } from "./format.js";
import type { StreamedPayload } from "./frame-reader.js";
import { scatterCrc32cPages } from "./page-crc.js";
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
 * live in segments of `segmentSize`, and `runView` gives a writable view of `count` pages
 * from `startPage` inside one, counting page `startPage + i` as populated when bit
 * `kindsAt + i` of `kinds` is set.
 */
export interface RamSink {
  readonly segmentSize: number;
  runView(startPage: number, count: number, kinds: Uint8Array, kindsAt: number): Uint8Array;
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

/** The part of a run inside one memory segment, as the writer sees it. */
interface RunPiece {
  /** The piece's pages in guest memory. */
  readonly view: Uint8Array;
  /** Index (in the run's order) of the piece's first data page. */
  readonly firstData: number;
}

/**
 * Writes a RAM_PAGES run's data pages into guest memory as the payload arrives, hashing each
 * page as it goes in (the whole pages of a chunk in one call per segment, a page split
 * between chunks once it is whole), and checks the frame CRC from those page CRCs at the end.
 */
class RamPagesWriter implements StreamedPayload {
  readonly #offset: number;
  readonly #head: Uint8Array;
  readonly #startPage: number;
  readonly #count: number;
  readonly #kinds: Uint8Array;
  readonly #crcs: Uint32Array;
  /** Where each data page goes, in order: its page within its piece's view. */
  readonly #slots: Int32Array;
  /** The run's pieces, one per segment it touches (one, unless another encoder sent it). */
  readonly #pieces: RunPiece[] = [];
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
    this.#offset = offset;
    this.#head = head;
    this.#startPage = startPage;
    this.#count = count;
    this.#kinds = kinds;
    this.#crcs = new Uint32Array(dataPages);
    this.#slots = new Int32Array(dataPages);
    const segmentPages = sink.segmentSize / PAGE_SIZE;
    let j = 0;
    for (let from = 0; from < count; ) {
      const segmentEnd = (Math.floor((startPage + from) / segmentPages) + 1) * segmentPages;
      const to = Math.min(count, segmentEnd - startPage);
      this.#pieces.push({
        view: sink.runView(startPage + from, to - from, kinds, from),
        firstData: j,
      });
      for (let i = from; i < to; i++)
        if ((((kinds[i >> 3] as number) >> (i & 7)) & 1) === 1) this.#slots[j++] = i - from;
      from = to;
    }
  }

  write(bytes: Uint8Array): void {
    let pos = 0;
    const within = this.#received % PAGE_SIZE;
    if (within !== 0) {
      // The rest of a page an earlier chunk began: hashed from guest memory once whole.
      const j = (this.#received - within) / PAGE_SIZE;
      pos = Math.min(bytes.byteLength, PAGE_SIZE - within);
      this.#piece(j, within, bytes.subarray(0, pos));
      if (within + pos === PAGE_SIZE) this.#crcs[j] = crc32c(this.#page(j) as Buffer);
    }
    const whole = Math.floor((bytes.byteLength - pos) / PAGE_SIZE);
    if (whole > 0) {
      const first = this.#received / PAGE_SIZE;
      for (let v = 0; v < this.#pieces.length; v++) {
        const piece = this.#pieces[v] as RunPiece;
        const a = Math.max(first, piece.firstData);
        const b = Math.min(first + whole, this.#pieces[v + 1]?.firstData ?? this.#slots.length);
        if (a >= b) continue;
        const at = pos + (a - first) * PAGE_SIZE;
        scatterCrc32cPages(
          bytes.subarray(at, at + (b - a) * PAGE_SIZE),
          this.#slots,
          a,
          piece.view,
          this.#crcs,
        );
      }
      this.#received += whole * PAGE_SIZE;
      pos += whole * PAGE_SIZE;
    }
    // The start of a page the next chunk completes.
    if (pos < bytes.byteLength) this.#piece(this.#received / PAGE_SIZE, 0, bytes.subarray(pos));
  }

  /** Copies `piece` to byte `within` of data page `j` in guest memory. */
  #piece(j: number, within: number, piece: Uint8Array): void {
    copyBytes(this.#page(j).subarray(within, within + piece.byteLength), piece);
    this.#received += piece.byteLength;
  }

  /** Data page `j` in guest memory. */
  #page(j: number): Uint8Array {
    let v = this.#pieces.length - 1;
    while ((this.#pieces[v] as RunPiece).firstData > j) v--;
    const at = (this.#slots[j] as number) * PAGE_SIZE;
    return (this.#pieces[v] as RunPiece).view.subarray(at, at + PAGE_SIZE);
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
