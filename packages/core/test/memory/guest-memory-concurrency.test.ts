import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { DirtyBitmap, GuestMemory, HALF_SWAP } from "../../src/memory/index.js";

/**
 * A vCPU stand-in, self-contained so it runs without TypeScript: it relies only on the
 * documented GuestMemoryLayout (segments, Int32 populated map and dirty log: mark
 * populated, store, then Atomics.or the dirty log). It
 * writes pages at full speed, records each one in a private truth bitmap
 * (shared, so the main thread can read it), and raises `done` when its time is up.
 */
const WORKER = `
const { workerData } = require("node:worker_threads");
const { layout, truth, done, durationMs, seed, halfSwap, randomPages } = workerData;
const bytes = layout.segments.map((s) => new Uint8Array(s));
const log = new Int32Array(layout.dirtyLog);
const populated = new Int32Array(layout.populated);
const mine = new Int32Array(truth);
const flag = new Int32Array(done);
const pages = layout.size / 4096;
let writes = 0;
function write(pfn) {
  const gpa = pfn * 4096;
  const seg = Math.floor(gpa / layout.segmentSize);
  Atomics.or(populated, (pfn >>> 5) ^ halfSwap, 1 << (pfn & 31));
  bytes[seg][gpa - seg * layout.segmentSize + (writes & 4095)] = (writes & 0xff) | 1;
  const w = (pfn >>> 5) ^ halfSwap;
  const bit = 1 << (pfn & 31);
  Atomics.or(log, w, bit);
  mine[w] |= bit;
  writes++;
}
// Phase 1: random pages of the first region at full speed, words rewritten constantly.
let x = seed | 0 || 1;
const deadline = Date.now() + durationMs;
for (;;) {
  for (let k = 0; k < 4096; k++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    write((x >>> 0) % randomPages);
  }
  if (Date.now() >= deadline) break;
}
// Phase 2: every page of the rest exactly once, in order: a bit lost here is never
// set again, so the final comparison catches any read-and-clear that drops bits.
for (let pfn = randomPages; pfn < pages; pfn++) {
  write(pfn);
  for (let spin = 0; spin < 40; spin++) x = (x * 31 + spin) | 0;
}
Atomics.store(flag, 1, writes);
Atomics.store(flag, 2, x);
Atomics.store(flag, 0, 1);
`;

describe("GuestMemory dirty log under a concurrent writer", () => {
  it("reports every page a worker wrote while the main thread read-and-clears in a loop", async () => {
    // 16 MiB written at random (writer and reader fight over the same words), then 240 MiB once each.
    const mem = GuestMemory.create({ size: 256 * 2 ** 20, segmentSize: 64 * 2 ** 20 });
    const truth = new DirtyBitmap(mem.pages, { shared: true });
    const done = new Int32Array(new SharedArrayBuffer(12));
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        layout: mem.layout,
        truth: truth.buffer,
        done: done.buffer,
        durationMs: 400,
        seed: 0x9e3779b9,
        halfSwap: HALF_SWAP,
        randomPages: 4096,
      },
    });
    await once(worker, "online");
    const reported = new DirtyBitmap(mem.pages);
    let syncs = 0;
    let nonEmptySyncs = 0;
    while (Atomics.load(done, 0) === 0) {
      syncs++;
      if (mem.logReadAndClear(reported) > 0) nonEmptySyncs++;
    }
    mem.logReadAndClear(reported); // final sync: the writer has stopped
    await once(worker, "exit");
    const writes = Atomics.load(done, 1);
    expect(writes).toBeGreaterThan(10_000);
    expect(nonEmptySyncs).toBeGreaterThan(10); // the race really happened
    expect(syncs).toBeGreaterThan(nonEmptySyncs - 1);
    expect(truth.count()).toBeGreaterThan(mem.pages - 4096);
    const lost = truth.toPageList().filter((p) => !reported.test(p));
    expect(lost, `pages written but never reported (${syncs} syncs)`).toEqual([]);
    expect(reported.isSubsetOf(truth)).toBe(true); // nothing invented either
    // Every page marked dirty really holds the writer's bytes.
    for (const pfn of [0, 17, mem.pages - 1])
      if (truth.test(pfn)) expect(mem.isZeroPage(pfn)).toBe(false);
  }, 15_000);
});
