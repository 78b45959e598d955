// Dirty-log sync: what the migration engine does at every iteration boundary — read-and-clear
// the CPU dirty log (an Atomics.exchange per non-empty word) into a working bitmap, then walk
// the runs of dirty pages. Shared by dirty-log.bench.mjs (against memcpy, up to 64 GiB) and
// the CLI's benchmark (`npm run bench`, the series against guest RAM size).
import { DirtyBitmap, GuestMemory } from "../dist/memory/index.js";

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Median ms of `fn`, `prepare` untimed before each sample: at least `minSamples`, then more
 * for about `ms` milliseconds (at most 200).
 */
export function measure(prepare, fn, { minSamples = 7, ms = 500 } = {}) {
  const samples = [];
  const start = performance.now();
  while (samples.length < minSamples || (performance.now() - start < ms && samples.length < 200)) {
    prepare();
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

/**
 * `fraction` of `pages` dirty, scattered by a fixed xorshift (deterministic, and the worst
 * case for runs); at 50 % and more every bit is a coin flip, set word by word.
 */
export function pattern(pages, fraction) {
  const b = new DirtyBitmap(pages);
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  if (fraction >= 0.5 && pages % 64 === 0) {
    for (let i = 0; i < b.words.length; i++) b.words[i] = next() | 0;
  } else {
    const n = Math.round(pages * fraction);
    for (let i = 0; i < n; i++) b.set(next() % pages);
  }
  return b;
}

/** One sync of `log` into a cleared `work` bitmap, timed: ms, dirty pages found, runs walked. */
export function timeSync(log, work, pat, options) {
  let dirtyPages = 0;
  let runs = 0;
  const syncMs = measure(
    () => {
      log.words.set(pat.words);
      work.clear();
    },
    () => {
      dirtyPages = log.readAndClear(work);
      runs = 0;
      work.forEachRun(() => {
        runs++;
      });
    },
    options,
  );
  return { syncMs, dirtyPages, runs };
}

/** One row per (guest size, fraction dirty): sync ms, dirty pages found, runs walked. */
export function dirtyLogSync(sizesMiB, fractions = [0.01, 0.5]) {
  const rows = [];
  for (const sizeMiB of sizesMiB) {
    const memory = GuestMemory.create({ size: sizeMiB * 2 ** 20 });
    const work = new DirtyBitmap(memory.pages);
    for (const fraction of fractions) {
      const pat = pattern(memory.pages, fraction);
      const r = timeSync(memory.dirtyLog, work, pat, { minSamples: 5, ms: 300 });
      rows.push({ sizeMiB, fraction, ...r });
    }
  }
  return rows;
}
