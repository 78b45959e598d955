// Dirty-log sync: what the migration engine does every iteration — read-and-clear the CPU
// dirty log (Atomics.exchange per non-empty word) into a working bitmap, then walk the
// runs of dirty pages. Measured for 2, 16 and 64 GiB guests at 1% and 50% of pages dirty
// (scattered at random: the worst case for run iteration), and compared side by side with
// a memcpy of the same bitmap bytes in the same process (the cheapest conceivable "scan").
// 2 and 16 GiB use a real (lazily allocated) GuestMemory; 64 GiB measures the dirty log
// alone, since this host cannot back 64 GiB of RAM.
import { DirtyBitmap, GuestMemory } from "../dist/memory/index.js";
import { nativePageRoutines } from "../dist/memory/native-page-routines.js";
import { measure, pattern, timeSync } from "./dirty-log-sync.mjs";

const GiB = 2 ** 30;
const PAGE = 4096;

const rows = [];
for (const sizeGiB of [2, 16, 64]) {
  const pages = (sizeGiB * GiB) / PAGE;
  const log =
    sizeGiB <= 16
      ? GuestMemory.create({ size: sizeGiB * GiB }).dirtyLog
      : new DirtyBitmap(pages, { shared: true });
  const work = new DirtyBitmap(pages);
  for (const fraction of [0.01, 0.5]) {
    const pat = pattern(pages, fraction);
    const { syncMs, dirtyPages: dirty, runs } = timeSync(log, work, pat);
    const src = new Uint8Array(pat.words.buffer);
    const dst = new Uint8Array(src.length);
    const memcpyMs = measure(
      () => {},
      () => dst.set(src),
    );
    // A plain JS pass over the same words (count the non-empty ones): no atomics, no runs.
    let nonEmpty = 0;
    const scanMs = measure(
      () => {},
      () => {
        const w = pat.words;
        nonEmpty = 0;
        for (let i = 0; i < w.length; i++) if (w[i] !== 0) nonEmpty++;
      },
    );
    rows.push({
      guest: `${sizeGiB} GiB${sizeGiB > 16 ? " (log only)" : ""}`,
      dirty: `${fraction * 100}%`,
      bitmap: `${(src.length / 2 ** 20).toFixed(2)} MiB`,
      "dirty pages": dirty,
      runs,
      "non-empty words": nonEmpty,
      "sync ms": syncMs.toFixed(3),
      "GiB RAM/s": Math.round(sizeGiB / (syncMs / 1000)),
      "memcpy ms": memcpyMs.toFixed(3),
      "sync / memcpy": `${(syncMs / memcpyMs).toFixed(0)}×`,
      "JS scan ms": scanMs.toFixed(3),
      "sync / JS scan": `${(syncMs / scanMs).toFixed(1)}×`,
    });
  }
}
console.log(
  "dirty-log sync (read-and-clear + iterate runs) vs memcpy and a plain JS word scan of the same bitmap",
);
console.log(
  `node ${process.version}, ${(await import("node:os")).cpus().length} CPUs: ${(await import("node:os")).cpus()[0]?.model ?? "?"}`,
);
console.table(rows);

// Zero-page detection on 64 MiB of zero pages, every page marked populated (a page never
// written is known zero without being read, which would measure nothing): GuestMemory's
// word compares, the addon's scan the source's bulk pass runs (zero check, and copy and
// CRC32C of the data pages it finds: none here), and Buffer.compare (memcmp) as baseline.
{
  const mem = GuestMemory.create({ size: 64 * 2 ** 20 });
  mem.prefault();
  mem.view(0, mem.size); // marks every page populated
  const zero = Buffer.alloc(PAGE);
  const count = (f) => {
    let zeros = 0;
    const ms = measure(
      () => {},
      () => {
        zeros = f();
      },
    );
    return { ms, zeros };
  };
  const methods = [
    {
      method: "GuestMemory.isZeroPage (word compares)",
      ...count(() => {
        let z = 0;
        for (let p = 0; p < mem.pages; p++) if (mem.isZeroPage(p)) z++;
        return z;
      }),
    },
  ];
  const scan = nativePageRoutines?.scanGatherCrc32cPages;
  if (scan !== undefined) {
    const all = mem.peek(0, mem.size);
    // 1024 pages a call, as the bulk pass's 4 MiB records; the outputs have room for them all.
    const kinds = new Uint8Array(1024 / 8);
    const dest = new Uint8Array(1024 * PAGE);
    const crcs = new Uint32Array(1024);
    methods.push({
      method: "addon's scan (the source's bulk pass)",
      ...count(() => {
        let data = 0;
        for (let p = 0; p < mem.pages; p += 1024)
          data += scan(all.subarray(p * PAGE, (p + 1024) * PAGE), 1024, null, 0, kinds, dest, crcs);
        return mem.pages - data;
      }),
    });
  }
  methods.push({
    method: "Buffer.compare vs zero page (memcmp)",
    ...count(() => {
      let z = 0;
      for (let p = 0; p < mem.pages; p++) if (Buffer.compare(mem.pageView(p), zero) === 0) z++;
      return z;
    }),
  });
  console.log("zero-page check over 64 MiB of zero pages (worst case: no early exit)");
  console.table(
    methods.map(({ method, ms, zeros }) => ({
      method,
      ms: ms.toFixed(3),
      "GiB/s": (64 / 1024 / (ms / 1000)).toFixed(1),
      zeros,
    })),
  );
}
