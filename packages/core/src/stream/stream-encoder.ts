import { crc32c } from "@node-rs/crc32";
import { MdevError } from "../errors/mdev-error.js";
import { StreamError } from "../errors/stream-error.js";
import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import type { ByteBuilder } from "./byte-builder.js";
import { reasonBytes } from "./control-codec.js";
import { crc32cExtendPages } from "./crc32c-combine.js";
import {
  DEVICE_CONFIG_HEAD_LENGTH,
  DEVICE_DATA_HEAD_LENGTH,
  DEVICE_INIT_DONE_LENGTH,
} from "./device-codec.js";
import { endLength, fillEnd } from "./end-codec.js";
import {
  DIGEST_LENGTH,
  FORMAT_VERSION,
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  HEADER_LENGTH,
  MAX_SEQUENCE,
  PAGE_SIZE,
  RamRunFlags,
  SPARSE_RUN_VERSION,
  StreamDirection,
} from "./format.js";
import { ForwardRules } from "./forward-rules.js";
import { frameWhole, frameWithBulk } from "./frame.js";
import { handshakePayload } from "./handshake-codec.js";
import { fillIteration, ITERATION_LENGTH } from "./progress-codec.js";
import { kindsLength, RAM_RUN_HEAD_LENGTH, ramPagesBody } from "./ram-pages-codec.js";
import { type ScannedRamRun, scanRamRun } from "./ram-pages-scan.js";
import { isDataPage, isZeroPage } from "./ram-run.js";
import { RecordType } from "./record-type.js";
import type { DevicePhase, ForwardBody, HandshakeBody, IterationBody } from "./records.js";
import { sha256 } from "./stream-digest.js";
import { encodeStreamHeader } from "./stream-header.js";
import { resolveStreamLimits, type StreamLimits } from "./stream-limits.js";

/** How {@link StreamEncoder.ramPages} treats the page views it is given. */
export interface RamPagesOptions {
  /**
   * Copy the data pages into a private buffer before computing the CRC (default false).
   * Needed while vCPUs run: a zero-copy view can change between CRC and send, and the
   * target would then reject a correct stream. During stop-copy, leave it off.
   */
  readonly snapshot?: boolean;
  /** Detect zero pages among the views and send them as markers (default true). */
  readonly detectZero?: boolean;
  /**
   * Told the CRC32C of each page as sent (`undefined` for a zero-page marker): the RAM
   * digest's page table, filled from the same bytes the wire carries at no extra cost.
   */
  readonly onPage?: (page: number, crc: number | undefined) => void;
  /**
   * Told each record's pages at once (the bulk path's digest-table update): bit i of `kinds`
   * set when page `startPage + i` is data, whose CRC32C is the next of `crcs`. Called after
   * the record passed the encoder's rules, like `onPage`.
   */
  readonly onRun?: (
    startPage: number,
    count: number,
    kinds: Uint8Array,
    crcs: Uint32Array,
    sparse: boolean,
  ) => void;
  /**
   * {@link ramRange}, format version 5: bit i set when page `startPage + i` is one the
   * target already holds as it is now (the caller compared it with what it last sent). With
   * any bit set the record is sparse: those pages are left out, every other page goes out
   * as data (no zero markers), and the target keeps the left-out pages unchanged.
   */
  readonly unchanged?: Uint8Array;
  /**
   * With `snapshot`: copy into this buffer (from its start) instead of a new allocation —
   * fresh memory costs a page fault per 4 KiB on first touch, a reused buffer does not.
   * The caller keeps it unchanged until the frames are sent.
   */
  readonly snapshotInto?: Uint8Array;
  /**
   * {@link ramRange} with `detectZero`: the guest's map of pages that may hold data
   * (`GuestMemory.populated`). A page whose bit is clear is sent as a zero marker without
   * reading it, so never-touched guest RAM is not faulted in by its migration.
   */
  readonly populated?: DirtyBitmap;
}

/** Running totals of an encoder. */
export interface EncoderStats {
  /** Records framed (the next sequence number). */
  readonly records: number;
  /** Bytes framed, header included. */
  readonly bytes: number;
  /** Data pages sent. */
  readonly dataPages: number;
  /** Zero pages sent as markers. */
  readonly zeroPages: number;
}

/**
 * Encoder of the forward migration stream. Each method returns the frames of one record as
 * `Uint8Array[]` for a single corked writev; RAM pages and device data are passed through as
 * views (zero-copy on the source). The encoder applies the same rules as the decoder, and
 * computes END's totals and device digests itself, so it cannot produce a stream its peer
 * would refuse. Misuse is an `MdevError` EINVAL.
 */
export class StreamEncoder {
  readonly #limits: StreamLimits;
  readonly #rules = new ForwardRules();
  #seq = 0;
  #bytes = 0;

  readonly #version: number;

  /** `version`: the format version the header names (default: this build's). */
  constructor(
    options: { readonly limits?: Partial<StreamLimits>; readonly version?: number } = {},
  ) {
    this.#limits = resolveStreamLimits(options.limits);
    this.#version = options.version ?? FORMAT_VERSION;
  }

  /** The format version this stream is written in (its header's). */
  get version(): number {
    return this.#version;
  }

  /** Most pages one RAM_PAGES record may span under these limits. */
  get maxPagesPerRun(): number {
    return this.#limits.maxPagesPerRun;
  }

  /** Largest number of data pages one RAM_PAGES record can carry under these limits. */
  get maxDataPagesPerRecord(): number {
    const room =
      this.#limits.maxRecordLength - RAM_RUN_HEAD_LENGTH - kindsLength(this.#limits.maxPagesPerRun);
    return Math.max(1, Math.min(this.#limits.maxPagesPerRun, Math.floor(room / PAGE_SIZE)));
  }

  /** Running totals. */
  get stats(): EncoderStats {
    return {
      records: this.#seq,
      bytes: this.#bytes,
      dataPages: this.#rules.dataPages,
      zeroPages: this.#rules.zeroPages,
    };
  }

  /** Stream header + HANDSHAKE. The header's config digest is SHA-256 of `body.config`. */
  start(body: Omit<HandshakeBody, "type">): Uint8Array[] {
    const handshake: HandshakeBody = {
      type: "HANDSHAKE",
      config: body.config,
      devices: body.devices,
    };
    const { length, fill } = handshakePayload(handshake, this.#limits);
    this.#check(length);
    const header = encodeStreamHeader(StreamDirection.FORWARD, sha256(body.config), this.#version);
    this.#bytes += HEADER_LENGTH;
    return [header, ...this.#whole(handshake, RecordType.HANDSHAKE, length, fill)];
  }

  /**
   * A RAM_PAGES record for pages `startPage ..` — `pages[i]` is a view of one guest page, or
   * `null` for a page known to be zero. Adjacent views of one buffer are merged into one
   * frame, so a run of consecutive guest pages costs a single iovec; when every page is such
   * a view, this is {@link ramRange} over them.
   */
  ramPages(
    startPage: number,
    pages: readonly (Uint8Array | null)[],
    options: RamPagesOptions = {},
  ): Uint8Array[] {
    const count = pages.length;
    this.#checkRun(startPage, count);
    const span = contiguousSpan(pages);
    if (span !== undefined) return this.ramRange(startPage, span, options);
    if (options.unchanged !== undefined)
      throw new MdevError("EINVAL", "a sparse record needs its pages as one contiguous view");
    const kinds = new Uint8Array(kindsLength(count));
    const data: Uint8Array[] = [];
    const detect = options.detectZero ?? true;
    for (let i = 0; i < count; i++) {
      const page = pages[i] ?? null;
      if (page !== null && page.byteLength !== PAGE_SIZE)
        throw new MdevError(
          "EINVAL",
          `page ${startPage + i} is ${page.byteLength} bytes, not ${PAGE_SIZE}`,
        );
      if (page === null || (detect && isZeroPage(page))) continue;
      kinds[i >> 3] = (kinds[i >> 3] ?? 0) | (1 << (i & 7));
      data.push(page);
    }
    const bulk = options.snapshot ? [snapshot(data, options.snapshotInto)] : coalesce(data);
    // One CRC per data page, over the bytes that will be sent (the snapshot when copying);
    // the frame's CRC is combined from them, so no byte is hashed twice.
    const copy = options.snapshot ? bulk[0] : undefined;
    const crcs = new Uint32Array(data.length);
    for (let j = 0; j < data.length; j++) {
      const bytes = copy
        ? copy.subarray(j * PAGE_SIZE, (j + 1) * PAGE_SIZE)
        : (data[j] as Uint8Array);
      crcs[j] = crc32c(bytes as Buffer);
    }
    return this.#ramRecord(
      startPage,
      count,
      { kinds, dataPages: data.length, crcs, bulk },
      options,
    );
  }

  /**
   * A RAM_PAGES record for the `pages.byteLength / 4096` consecutive guest pages held
   * contiguously in `pages` (a view of guest memory): the source's bulk path. Zero pages
   * are found by reading words of the run in place and sent as markers; data pages go out
   * as views of `pages`, or as one snapshot with `snapshot` (see {@link RamPagesOptions}).
   */
  ramRange(startPage: number, pages: Uint8Array, options: RamPagesOptions = {}): Uint8Array[] {
    if (pages.byteLength % PAGE_SIZE !== 0)
      throw new MdevError(
        "EINVAL",
        `a run of pages is ${pages.byteLength} bytes, not a multiple of ${PAGE_SIZE}`,
      );
    const count = pages.byteLength / PAGE_SIZE;
    this.#checkRun(startPage, count);
    const unchanged = this.#sparseMap(options.unchanged, count);
    const into = options.snapshot
      ? (options.snapshotInto ?? new Uint8Array(pages.byteLength))
      : undefined;
    const scan = scanRamRun(
      pages,
      count,
      options.detectZero ?? true,
      into,
      options.populated && { map: options.populated, startPage },
      unchanged,
    );
    return this.#ramRecord(startPage, count, scan, options, unchanged !== undefined);
  }

  /** `unchanged` when it leaves a page out (the record is then sparse), else undefined. */
  #sparseMap(unchanged: Uint8Array | undefined, count: number): Uint8Array | undefined {
    if (unchanged === undefined) return undefined;
    if (unchanged.byteLength !== kindsLength(count))
      throw new MdevError(
        "EINVAL",
        `an unchanged-page map of ${count} pages is ${kindsLength(count)} bytes, got ${unchanged.byteLength}`,
      );
    if (unchanged.every((b) => b === 0)) return undefined;
    if (this.#version < SPARSE_RUN_VERSION)
      throw new MdevError(
        "EINVAL",
        `sparse RAM_PAGES records need format version ${SPARSE_RUN_VERSION}; this stream is version ${this.#version}`,
      );
    return unchanged;
  }

  #checkRun(startPage: number, count: number): void {
    if (!Number.isSafeInteger(startPage) || startPage < 0)
      throw new MdevError("EINVAL", `invalid start page ${startPage}`);
    if (count === 0 || count > this.#limits.maxPagesPerRun) {
      throw new MdevError(
        "EINVAL",
        `a run holds 1..${this.#limits.maxPagesPerRun} pages, got ${count}`,
      );
    }
  }

  /** Frames a scanned run: reports its pages, then head + bulk with a CRC combined from `crcs`. */
  #ramRecord(
    startPage: number,
    count: number,
    scan: ScannedRamRun,
    options: RamPagesOptions,
    sparse = false,
  ): Uint8Array[] {
    const { kinds, crcs } = scan;
    const headLength = RAM_RUN_HEAD_LENGTH + kinds.byteLength;
    this.#check(headLength + scan.dataPages * PAGE_SIZE);
    const body: ForwardBody = ramPagesBody(startPage, count, kinds, sparse, EMPTY);
    const flags = sparse ? RamRunFlags.SPARSE : 0;
    const frames = this.#bulk(
      body,
      RecordType.RAM_PAGES,
      headLength,
      (b) => b.u64(startPage).u32(count).u32(flags).raw(kinds),
      scan.bulk,
      scan.dataPages,
      (headCrc) => crc32cExtendPages(headCrc, crcs),
    );
    // Told only once the record is accepted: a refused record must not reach the digest.
    options.onRun?.(startPage, count, kinds, crcs, sparse);
    if (options.onPage) {
      for (let i = 0, j = 0; i < count; i++) {
        if (isDataPage(kinds, i)) options.onPage(startPage + i, crcs[j++]);
        else if (!sparse) options.onPage(startPage + i, undefined);
      }
    }
    return frames;
  }

  /** DEVICE_CONFIG: a device's config space, sent after PRECOPY_END. */
  deviceConfig(slot: number, config: Uint8Array): Uint8Array[] {
    if (config.byteLength > this.#limits.maxDeviceConfigLength) {
      throw new MdevError(
        "EINVAL",
        `config space of ${config.byteLength} bytes exceeds ${this.#limits.maxDeviceConfigLength}`,
      );
    }
    const length = DEVICE_CONFIG_HEAD_LENGTH + config.byteLength;
    return this.#whole(
      { type: "DEVICE_CONFIG", slot, config },
      RecordType.DEVICE_CONFIG,
      length,
      (b) => b.u16(slot).u16(0).raw(config),
    );
  }

  /** DEVICE_DATA: one chunk of a device's data, passed through as a view. */
  deviceData(slot: number, phase: DevicePhase, data: Uint8Array): Uint8Array[] {
    if (data.byteLength === 0)
      throw new MdevError("EINVAL", "device data chunks must not be empty");
    const body: ForwardBody = { type: "DEVICE_DATA", slot, phase, data };
    return this.#bulk(
      body,
      RecordType.DEVICE_DATA,
      DEVICE_DATA_HEAD_LENGTH,
      (b) => b.u16(slot).u8(phase).u8(0),
      [data],
      0,
    );
  }

  /** DEVICE_INIT_DONE: every initial precopy byte of `slot` has been sent. */
  deviceInitDone(slot: number): Uint8Array[] {
    return this.#whole(
      { type: "DEVICE_INIT_DONE", slot },
      RecordType.DEVICE_INIT_DONE,
      DEVICE_INIT_DONE_LENGTH,
      (b) => b.u16(slot).u16(0),
    );
  }

  /** ITERATION: end of one precopy pass. */
  iteration(stats: Omit<IterationBody, "type">): Uint8Array[] {
    const body: IterationBody = { type: "ITERATION", ...stats };
    return this.#whole(body, RecordType.ITERATION, ITERATION_LENGTH, (b) => fillIteration(b, body));
  }

  /** PRECOPY_END: the VM is paused; stop-copy data follows. */
  precopyEnd(): Uint8Array[] {
    return this.#whole({ type: "PRECOPY_END" }, RecordType.PRECOPY_END, 0, () => {});
  }

  /** END with the totals and device digests this encoder accounted, and the given RAM digest. */
  end(ramDigest: Uint8Array): Uint8Array[] {
    if (ramDigest.byteLength !== DIGEST_LENGTH)
      throw new MdevError("EINVAL", "RAM digest must be a 32-byte SHA-256");
    const devices = this.#rules.deviceTotals();
    const body: ForwardBody = {
      type: "END",
      dataPages: this.#rules.dataPages,
      zeroPages: this.#rules.zeroPages,
      ramDigest,
      devices,
    };
    return this.#whole(body, RecordType.END, endLength(devices.length), (b) => fillEnd(b, body));
  }

  /** GO: the answer to LOADED. */
  go(): Uint8Array[] {
    return this.#whole({ type: "GO" }, RecordType.GO, 0, () => {});
  }

  /** ABORT(reason): the source gives up; the target discards what it loaded. */
  abort(reason: string): Uint8Array[] {
    const r = reasonBytes(reason, this.#limits);
    return this.#whole({ type: "ABORT", reason }, RecordType.ABORT, 2 + r.byteLength, (b) =>
      b.u16(r.byteLength).raw(r),
    );
  }

  #check(length: number): void {
    if (length > this.#limits.maxRecordLength) {
      throw new MdevError(
        "EINVAL",
        `record payload of ${length} bytes exceeds ${this.#limits.maxRecordLength}`,
      );
    }
    if (this.#seq > MAX_SEQUENCE) throw new MdevError("EOVERFLOW", "sequence numbers exhausted");
  }

  #accept(body: ForwardBody, dataPages: number): void {
    try {
      this.#rules.accept(body, this.#bytes, dataPages);
    } catch (err) {
      if (err instanceof StreamError)
        throw new MdevError("EINVAL", `encoder misuse: ${err.message}`, { cause: err });
      throw err;
    }
  }

  #whole(
    body: ForwardBody,
    type: number,
    length: number,
    fill: (b: ByteBuilder) => void,
  ): Uint8Array[] {
    this.#check(length);
    this.#accept(body, 0);
    const frame = frameWhole(type, this.#seq++, length, fill);
    this.#bytes += frame.byteLength;
    return [frame];
  }

  #bulk(
    body: ForwardBody,
    type: number,
    headLength: number,
    fillHead: (b: ByteBuilder) => void,
    bulk: readonly Uint8Array[],
    dataPages: number,
    bulkCrc?: (headCrc: number) => number,
  ): Uint8Array[] {
    let length = headLength;
    for (const v of bulk) length += v.byteLength;
    this.#check(length);
    this.#accept(body, dataPages);
    this.#bytes += FRAME_HEADER_LENGTH + length + FRAME_TRAILER_LENGTH;
    return frameWithBulk(type, this.#seq++, headLength, fillHead, bulk, bulkCrc);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * The one view spanning `pages` when every page is a non-null view directly following the
 * previous one in the same buffer (what a caller slicing guest memory page by page passes).
 */
function contiguousSpan(pages: readonly (Uint8Array | null)[]): Uint8Array | undefined {
  const first = pages[0];
  if (first === null || first === undefined || first.byteLength !== PAGE_SIZE) return undefined;
  let end = first.byteOffset + PAGE_SIZE;
  for (let i = 1; i < pages.length; i++) {
    const p = pages[i];
    if (
      p === null ||
      p === undefined ||
      p.buffer !== first.buffer ||
      p.byteOffset !== end ||
      p.byteLength !== PAGE_SIZE
    )
      return undefined;
    end += PAGE_SIZE;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** Merges views that are adjacent in one buffer, so consecutive guest pages become one iovec. */
function coalesce(views: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let cur: Uint8Array | undefined;
  for (const v of views) {
    if (cur && cur.buffer === v.buffer && cur.byteOffset + cur.byteLength === v.byteOffset) {
      cur = new Uint8Array(cur.buffer, cur.byteOffset, cur.byteLength + v.byteLength);
    } else {
      if (cur) out.push(cur);
      cur = v;
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** Copies views into one private buffer (the snapshot a running guest cannot change). */
function snapshot(views: readonly Uint8Array[], into?: Uint8Array): Uint8Array {
  let n = 0;
  for (const v of views) n += v.byteLength;
  if (into !== undefined && into.byteLength < n) {
    throw new MdevError("EINVAL", `snapshot buffer of ${into.byteLength} bytes cannot hold ${n}`);
  }
  const out = into === undefined ? new Uint8Array(n) : into.subarray(0, n);
  let at = 0;
  for (const v of views) {
    out.set(v, at);
    at += v.byteLength;
  }
  return out;
}
