import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import { kindsLength } from "../stream/ram-pages-codec.js";

/** Limits on the records {@link planRamRecords} lays out. */
export interface RamRecordLimits {
  /** Most dirty pages one record holds. */
  readonly recordPages: number;
  /** Guest pages per memory segment: a record is one contiguous view, so never crosses one. */
  readonly segmentPages: number;
  /**
   * Most pages a record spans when it leaves the clean pages between dirty runs out (a
   * sparse record, format version 5), raised to `recordPages` when below it; 0 when the
   * target cannot be assumed to hold them, and every record is then a plain run of dirty
   * pages.
   */
  readonly sparseSpanPages: number;
}

/**
 * One record's extent: pages `start .. start + count - 1`, of which `dirtyPages` are dirty.
 * {@link planRamRecords} reuses one object, valid until it yields the next.
 */
export interface RamRecordExtent {
  start: number;
  count: number;
  dirtyPages: number;
  /**
   * Bit i set: page `start + i` is clean and left out (the record is sparse). Undefined when
   * every page of the extent is dirty. A view of the planner's buffer: the caller may set
   * more bits in it (pages it leaves out too) until the next extent.
   */
  gaps: Uint8Array | undefined;
}

/** Pages scanned per window of the dirty bitmap, so a huge bitmap never becomes a huge run list. */
const WINDOW_PAGES = 64 * 1024;

/**
 * Lays the dirty pages of `dirty` out as RAM_PAGES records, in ascending order. Each dirty
 * page is in exactly one record; a record holds at most `recordPages` dirty pages and
 * stays inside one memory segment.
 *
 * With `sparseSpanPages`, dirty runs close together share one sparse record, the clean
 * pages between them marked as left out. After the first pass the dirty pages are
 * scattered (the dirtying bench VM: a hot set of single pages, one in 32 to 128), and a
 * record each cost more than their bytes on both sides: framing, CRC and digest calls,
 * the target's write and checks, each once per record. A clean page left out costs one
 * bit and a skipped loop step instead.
 */
export function* planRamRecords(
  dirty: DirtyBitmap,
  limits: RamRecordLimits,
): Generator<RamRecordExtent, void, undefined> {
  const { recordPages, segmentPages, sparseSpanPages } = limits;
  const spanPages = sparseSpanPages > 0 ? Math.max(sparseSpanPages, recordPages) : recordPages;
  const gapBuffer = new Uint8Array(kindsLength(spanPages));
  const extent: RamRecordExtent = { start: 0, count: 0, dirtyPages: 0, gaps: undefined };
  let open = false;
  let end = 0;
  let limitEnd = 0;
  let gapped = false;
  for (let from = 0; from < dirty.pages; from += WINDOW_PAGES) {
    const to = Math.min(dirty.pages, from + WINDOW_PAGES);
    for (const run of dirty.runs(from, to)) {
      const runEnd = run.start + run.count;
      for (let s = run.start; s < runEnd; ) {
        // Joined to the open record: adjacent pages always, clean pages between only sparse.
        if (
          open &&
          s < limitEnd &&
          extent.dirtyPages < recordPages &&
          (s === end || sparseSpanPages > 0)
        ) {
          const take = Math.min(runEnd, limitEnd, s + recordPages - extent.dirtyPages) - s;
          if (s > end) {
            markRange(gapBuffer, end - extent.start, s - end);
            gapped = true;
          }
          end = s + take;
          extent.dirtyPages += take;
          s += take;
          continue;
        }
        if (open) {
          yield close(extent, end, gapped, gapBuffer);
          if (gapped) gapBuffer.fill(0, 0, kindsLength(extent.count));
        }
        const segmentEnd = (Math.floor(s / segmentPages) + 1) * segmentPages;
        limitEnd = Math.min(segmentEnd, s + spanPages);
        const take = Math.min(runEnd, limitEnd, s + recordPages) - s;
        open = true;
        gapped = false;
        extent.start = s;
        extent.dirtyPages = take;
        end = s + take;
        s += take;
      }
    }
  }
  if (open) yield close(extent, end, gapped, gapBuffer);
}

function close(
  extent: RamRecordExtent,
  end: number,
  gapped: boolean,
  gapBuffer: Uint8Array,
): RamRecordExtent {
  extent.count = end - extent.start;
  extent.gaps = gapped ? gapBuffer.subarray(0, kindsLength(extent.count)) : undefined;
  return extent;
}

/**
 * Sets bits `at .. at + n - 1` of a little-endian bit-per-page map: whole bytes at once, as
 * the gaps between a later pass's scattered dirty pages run to hundreds of pages.
 */
function markRange(map: Uint8Array, at: number, n: number): void {
  let i = at;
  const end = at + n;
  for (; i < end && (i & 7) !== 0; i++) map[i >> 3] = (map[i >> 3] as number) | (1 << (i & 7));
  if (end - i >= 8) {
    map.fill(0xff, i >> 3, end >> 3);
    i = end & ~7;
  }
  for (; i < end; i++) map[i >> 3] = (map[i >> 3] as number) | (1 << (i & 7));
}
