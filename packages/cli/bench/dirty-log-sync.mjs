// Dirty-log sync against guest RAM size: what the engine does at every iteration boundary —
// read-and-clear the CPU dirty log (an Atomics.exchange per non-empty word) into a working
// bitmap, then walk the runs of dirty pages — for a GuestMemory of each size (lazily
// backed: only the log is touched), with 1 % and 50 % of pages dirty, scattered at random
// (the worst case for runs). packages/core/bench/dirty-log.bench.mjs measures the same
// operation against memcpy and a JS scan at 2–64 GiB; this is the series against RAM size.
import { DirtyBitmap, GuestMemory } from "@mdevkit/core";
import { median } from "./stats.mjs";

/** `fraction` of `pages` set, scattered by a fixed xorshift (every run sees the same pattern). */
function pattern(pages, fraction) {
  const b = new DirtyBitmap(pages);
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const n = Math.round(pages * fraction);
  for (let i = 0; i < n; i++) b.set(next() % pages);
  return b;
}

/** Median ms of `fn` over at least 5 samples and about 300 ms, `prepare` untimed before each. */
function measure(prepare, fn) {
  const samples = [];
  const start = performance.now();
  while (samples.length < 5 || (performance.now() - start < 300 && samples.length < 100)) {
    prepare();
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

/** One row per (size, fraction): sync ms, dirty pages found, runs walked. */
export function dirtyLogSync(sizesMiB, fractions = [0.01, 0.5]) {
  const rows = [];
  for (const sizeMiB of sizesMiB) {
    const memory = GuestMemory.create({ size: sizeMiB * 2 ** 20 });
    const log = memory.dirtyLog;
    const work = new DirtyBitmap(memory.pages);
    for (const fraction of fractions) {
      const pat = pattern(memory.pages, fraction);
      let dirty = 0;
      let runs = 0;
      const syncMs = measure(
        () => {
          log.words.set(pat.words);
          work.clear();
        },
        () => {
          dirty = log.readAndClear(work);
          runs = 0;
          work.forEachRun(() => {
            runs++;
          });
        },
      );
      rows.push({ sizeMiB, fraction, syncMs, dirtyPages: dirty, runs });
    }
  }
  return rows;
}
