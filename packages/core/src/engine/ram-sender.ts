import type { DirtyBitmap } from "../memory/dirty-bitmap.js";
import type { GuestMemory } from "../memory/guest-memory.js";
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
 *   markers; the encoder copies each record's data pages once, and the CRC, the digest
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
    const before = this.encoder.stats;
    const table = this.table;
    const options = {
      snapshot: mode === "snapshot",
      detectZero: true,
      onPage: (pfn: number, crc: number | undefined) => table.set(pfn, crc),
    };
    let frames: Uint8Array[] = [];
    let frameBytes = 0;
    for (let from = 0; from < dirty.pages; from += WINDOW_PAGES) {
      const to = Math.min(dirty.pages, from + WINDOW_PAGES);
      for (const run of dirty.runs(from, to)) {
        for (let start = run.start; start < run.start + run.count; start += maxRun) {
          const count = Math.min(maxRun, run.start + run.count - start);
          const pages: Uint8Array[] = new Array(count);
          for (let i = 0; i < count; i++) pages[i] = this.memory.pageView(start + i);
          for (const f of this.encoder.ramPages(start, pages, options)) {
            frames.push(f);
            frameBytes += f.byteLength;
          }
          if (frameBytes >= this.batchBytes) {
            const out = frames;
            frames = [];
            frameBytes = 0;
            await this.channel.send(out);
            between();
          }
        }
      }
    }
    if (frames.length > 0) await this.channel.send(frames);
    const after = this.encoder.stats;
    return {
      dataPages: after.dataPages - before.dataPages,
      zeroPages: after.zeroPages - before.zeroPages,
    };
  }
}
