import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import { PAGE_SIZE } from "../memory/page.js";
import { SPARSE_RUN_VERSION } from "../stream/format.js";
import { countDataPages, kindsLength } from "../stream/ram-pages-codec.js";
import type { StreamEncoder } from "../stream/stream-encoder.js";
import type { SourceChannel } from "../transport/channel.js";
import type { PageDigestTable } from "./page-digest-table.js";
import type { PinnedPageCache } from "./pinned-page-cache.js";
import { planRamRecords } from "./ram-record-plan.js";

/** What one {@link RamSender.send} pass moved. */
export interface RamSendStats {
  readonly dataPages: number;
  readonly zeroPages: number;
  /** Dirty pages left out because the target holds them already (see {@link PinnedPages}). */
  readonly unchangedPages: number;
}

/**
 * The pages devices keep pinned, for a sender whose stream can leave pages out (format
 * version 5): their copies, and the IOMMU's last report, whose pages get copies.
 */
export interface PinnedPages {
  readonly cache: PinnedPageCache;
  readonly reported: () => DirtyBitmap;
}

/**
 * Most data pages per RAM_PAGES record on the bulk path (4 MiB). Each record costs both
 * sides a fixed amount of work besides its bytes (framing, the target's header checks and
 * view, the digest table's and the pinned cache's bookkeeping); the target streams a
 * record's data into guest memory as it arrives, so no side holds the payload as one piece
 * but the source's snapshot. Against 1 MiB records (in 4 MiB batches), interleaved on our
 * 2-core EPYC machines (2026-12-03): RAM-static 2 GiB median total 770 → 684 ms and
 * 765 → 713 ms (5 runs each), the dirtying VM 772 → 700 ms (6), the seed VM's total and
 * downtime unchanged. 2048 pages gained no more and take 8 MiB more staging.
 */
const RECORD_PAGES = 1024;

/**
 * Most pages a sparse record spans (32 MiB of guest RAM, a 1 KiB page map): wide enough to
 * gather the scattered pages of a later pass into a few records, narrow enough that the
 * per-page steps over the span (map, digest table, the target's apply) stay below what a
 * record of their own would cost. The dirtying VM's second pass (7,000-8,600 pages, a few
 * hundred of them scattered) went in 150-190 records at 2048 pages; a record costs each
 * side a fixed amount, and the pass took 5-10 µs a page against the bulk pass's 2. Against
 * 2048, interleaved on our 2-core EPYC machines (2026-12-03): the passes after the first
 * 64 -> 42 and 53 -> 43 ms (medians of 10 and 12 pairs), totals 714 -> 654 and 752 -> 682
 * ms, downtime 7.3 -> 5.9 and 8.0 -> 5.1 ms; the seed VM and the 8-device VM no worse (5
 * and 6 pairs). 16384 and 32768 pages gained no more in the later passes (49 -> 42, 76 ->
 * 59 ms against 2048 in the same series) and their totals did not follow.
 */
const SPARSE_SPAN_PAGES = 8192;

/**
 * Sends dirty guest pages as RAM_PAGES records, batching records into one channel write
 * of about `batchBytes`.
 *
 * - `"snapshot"` (while vCPUs run): zero pages are detected on the live page and sent as
 *   markers; the encoder copies each record's data pages once, and the CRC, the digest
 *   table and the wire all see that copy — a page changing mid-send is simply dirty
 *   again and goes in a later pass.
 * - `"zero-copy"` (nothing can write guest RAM: saving a paused VM to a file): pages go out
 *   as views of guest memory.
 *
 * Once a pass has sent every page, a stream of format version 5 gathers dirty runs close
 * together into sparse records that leave the clean pages between them out (see
 * {@link planRamRecords}); a dirty page in such a record goes out as data even when zero.
 */
export class RamSender {
  constructor(
    private readonly memory: GuestMemory,
    private readonly encoder: StreamEncoder,
    private readonly channel: SourceChannel,
    private readonly table: PageDigestTable,
    private readonly batchBytes = 2 ** 20,
    private readonly pinned?: PinnedPages,
  ) {
    this.#sparseSpanPages =
      encoder.version >= SPARSE_RUN_VERSION
        ? Math.min(SPARSE_SPAN_PAGES, encoder.maxPagesPerRun)
        : 0;
  }

  readonly #sparseSpanPages: number;
  /**
   * Whether the target holds every page as last sent: true once a pass sent them all (the
   * first, as the CPU log starts with every page dirty). A clean page has not changed since
   * it went out, so later passes may leave clean pages out of sparse records.
   */
  #holdsClean = false;

  /**
   * Sends every page set in `dirty`; calls `between()` between batches (abort checks,
   * progress). In `"snapshot"` mode with {@link PinnedPages}, a page whose bytes equal its
   * copy is left out of a sparse record; `last` says no pass follows (the paused one), so
   * the copies of the pages it sends are marked stale rather than refreshed.
   */
  async send(
    dirty: DirtyBitmap,
    mode: "snapshot" | "zero-copy",
    between: () => void = () => {},
    last = false,
  ): Promise<RamSendStats> {
    const recordPages = Math.min(this.encoder.maxDataPagesPerRecord, RECORD_PAGES);
    const sendsAll = !this.#holdsClean && dirty.count() === dirty.pages;
    const pagesPerSegment = this.memory.segmentSize / PAGE_SIZE;
    const before = this.encoder.stats;
    const table = this.table;
    // Every writer marks a page populated before it stores (GuestMemory's contract), so a
    // page whose bit is clear is still zero and is sent as a marker without being read.
    const populated = this.memory.populated;
    let lastDataPages = 0;
    const pinned = mode === "snapshot" ? this.pinned : undefined;
    // After the last pass nothing compares with the copies: they are only marked stale.
    const admit = last ? undefined : pinned?.reported();
    let unchangedPages = 0;
    const unchangedMap = new Uint8Array(kindsLength(recordPages));
    const onRun = (
      start: number,
      count: number,
      kinds: Uint8Array,
      crcs: Uint32Array,
      sparse: boolean,
    ): void => {
      table.recordRun(start, count, kinds, crcs, sparse);
      lastDataPages = crcs.length;
      // The record's data pages are in the staging buffer from `staged` on, as sent.
      pinned?.cache.recordSent(
        start,
        count,
        kinds,
        sparse,
        (staging as Uint8Array).subarray(staged, staged + crcs.length * PAGE_SIZE),
        admit,
      );
    };
    // Snapshots go into one staging buffer reused for every batch: the channel has taken a
    // batch's bytes when send() settles, and fresh memory would fault on every 4 KiB page.
    // Two staging buffers alternate so one batch is on the wire while the next is encoded:
    // awaiting each send before encoding the next would leave source and target taking turns.
    const buffers = mode === "snapshot" ? this.#stagingBuffers(recordPages) : undefined;
    let current = 0;
    let staging = buffers?.[current];
    let staged = 0;
    let inflight: Promise<void> | undefined;
    let frames: Uint8Array[] = [];
    let frameBytes = 0;
    for (const extent of planRamRecords(dirty, {
      recordPages,
      segmentPages: pagesPerSegment,
      sparseSpanPages: this.#holdsClean ? this.#sparseSpanPages : 0,
    })) {
      const { start, count } = extent;
      const live = this.memory.peek(start * PAGE_SIZE, count * PAGE_SIZE);
      let unchanged = extent.gaps;
      if (pinned?.cache.covers(start, count)) {
        const map = unchanged ?? unchangedMap.subarray(0, kindsLength(count)).fill(0);
        pinned.cache.markUnchanged(start, count, live, map);
        // The map counts the clean pages too; the cache's equal pages are the rest.
        const leftOut = countDataPages(map);
        unchangedPages += leftOut - (count - extent.dirtyPages);
        // The target holds every page of the record already.
        if (leftOut === count) continue;
        unchanged = leftOut === 0 ? undefined : map;
      }
      // Literals, not a spread: copying properties into a new object costs microseconds
      // a record on Node 20, and the final pass is made of small records.
      const record = this.encoder.ramRange(
        start,
        live,
        staging === undefined
          ? { detectZero: true, onRun, populated }
          : unchanged === undefined
            ? {
                snapshot: true,
                detectZero: true,
                onRun,
                populated,
                snapshotInto: staging.subarray(staged),
              }
            : {
                snapshot: true,
                detectZero: true,
                onRun,
                populated,
                snapshotInto: staging.subarray(staged),
                unchanged,
              },
      );
      staged += lastDataPages * PAGE_SIZE;
      for (const f of record) {
        frames.push(f);
        frameBytes += f.byteLength;
      }
      if (frameBytes >= this.batchBytes) {
        const out = frames;
        frames = [];
        frameBytes = 0;
        // Sends stay in order: the previous batch settles before this one is handed over,
        // and a buffer is refilled only after the batch that used it settled.
        await inflight;
        between();
        inflight = this.channel.send(out);
        inflight.catch(() => {});
        current ^= 1;
        staging = buffers?.[current];
        staged = 0;
      }
    }
    await inflight;
    if (frames.length > 0) await this.channel.send(frames);
    if (sendsAll) this.#holdsClean = true;
    const after = this.encoder.stats;
    return {
      dataPages: after.dataPages - before.dataPages,
      zeroPages: after.zeroPages - before.zeroPages,
      unchangedPages,
    };
  }

  #staging: [Uint8Array, Uint8Array] | undefined;

  /** Two buffers, each for one batch of snapshots plus one record, kept across passes. */
  #stagingBuffers(recordPages: number): [Uint8Array, Uint8Array] {
    const size = this.batchBytes + recordPages * PAGE_SIZE;
    if (this.#staging === undefined || this.#staging[0].byteLength < size) {
      this.#staging = [new Uint8Array(size), new Uint8Array(size)];
    }
    return this.#staging;
  }
}
