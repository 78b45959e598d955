import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import type { GuestMemory } from "../memory/guest-memory.js";
import { PAGE_SIZE } from "../memory/page.js";
import { isZeroPage } from "../stream/ram-run.js";
import type { StreamEncoder } from "../stream/stream-encoder.js";
import type { SourceChannel } from "../transport/channel.js";
import type { PageDigestTable } from "./page-digest-table.js";

/** What one {@link RamSender.send} pass moved. */
export interface RamSendStats {
  readonly dataPages: number;
  readonly zeroPages: number;
}

/** Pages scanned per window of the dirty bitmap, so a huge bitmap never becomes a huge run list. */
const WINDOW_PAGES = 64 * 1024;

/**
 * Sends dirty guest pages as RAM_PAGES records, batching records into one channel write
 * of about `batchBytes`.
 *
 * - `"snapshot"` (while vCPUs run): zero pages are detected on the live page and sent as
 *   markers; data pages are copied once into the batch buffer, and the CRC, the digest
 *   table and the wire all see that copy — a page changing mid-send is simply dirty
 *   again and goes in a later pass.
 * - `"zero-copy"` (vCPUs paused, devices stopped): pages go out as views of guest memory.
 */
export class RamSender {
  constructor(
    private readonly memory: GuestMemory,
    private readonly encoder: StreamEncoder,
    private readonly channel: SourceChannel,
    private readonly table: PageDigestTable,
    private readonly batchBytes = 2 ** 20,
  ) {}

  /** Sends every page set in `dirty`; calls `between()` between batches (abort checks, progress). */
  async send(
    dirty: DirtyBitmap,
    mode: "snapshot" | "zero-copy",
    between: () => void = () => {},
  ): Promise<RamSendStats> {
    const maxRun = this.encoder.maxDataPagesPerRecord;
    const perBatch = Math.max(1, Math.floor(this.batchBytes / PAGE_SIZE));
    let frames: Uint8Array[] = [];
    let frameBytes = 0;
    let buffer = new Uint8Array(0);
    let used = 0;
    let dataPages = 0;
    let zeroPages = 0;
    const flush = async (): Promise<void> => {
      if (frames.length === 0) return;
      const out = frames;
      frames = [];
      frameBytes = 0;
      // The batch buffer belongs to the frames now; the next batch gets a fresh one.
      buffer = new Uint8Array(0);
      used = 0;
      await this.channel.send(out);
      between();
    };
    for (let from = 0; from < dirty.pages; from += WINDOW_PAGES) {
      const to = Math.min(dirty.pages, from + WINDOW_PAGES);
      for (const run of dirty.runs(from, to)) {
        for (let start = run.start; start < run.start + run.count; start += maxRun) {
          const count = Math.min(maxRun, run.start + run.count - start);
          if (mode === "snapshot" && buffer.byteLength - used < count * PAGE_SIZE) {
            buffer = new Uint8Array(Math.max(perBatch, count) * PAGE_SIZE);
            used = 0;
          }
          const pages: (Uint8Array | null)[] = new Array(count);
          for (let i = 0; i < count; i++) {
            const pfn = start + i;
            const live = this.memory.pageView(pfn);
            if (isZeroPage(live)) {
              pages[i] = null;
              this.table.zero(pfn);
              zeroPages++;
              continue;
            }
            let page = live;
            if (mode === "snapshot") {
              page = buffer.subarray(used, used + PAGE_SIZE);
              page.set(live);
              used += PAGE_SIZE;
            }
            this.table.data(pfn, page);
            pages[i] = page;
            dataPages++;
          }
          const record = this.encoder.ramPages(start, pages, { detectZero: false });
          for (const f of record) {
            frames.push(f);
            frameBytes += f.byteLength;
          }
          if (frameBytes >= this.batchBytes) await flush();
        }
      }
    }
    await flush();
    return { dataPages, zeroPages };
  }
}
