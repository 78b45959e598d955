#!/usr/bin/env node
import { resolve } from "node:path";
// CPU cost per byte of the engine's RAM data path, each side alone, in one process — CPU
// time (process.cpuUsage), so it holds on a machine shared with other work, where
// wall-clock migration timings swing 2–3×.
//   source: RamSender over a guest of ¾ random, ¼ zero pages ("snapshot" mode, as while
//           vCPUs run), into a channel that keeps the frames;
//   target: StreamDecoder over those bytes in 64 KiB chunks cut anywhere (as socket reads),
//           with the RAM sink when the build has one, applying pages into a second guest.
// With a dirty share below 1, the pass sends only that share of pages, picked at random:
// a later precopy pass or the final one, whose records hold a page or two each, so the
// figures per record show what framing and decoding a record costs beyond its pages.
// Usage: node packages/core/bench/data-path.mjs [MiB=512] [distDir=../dist] [dirtyShare=1]
import { pathToFileURL } from "node:url";

const mib = Number(process.argv[2] ?? 512);
const dirtyShare = Number(process.argv[4] ?? 1);
const dist = resolve(process.argv[3] ?? new URL("../dist", import.meta.url).pathname);
const load = (p) => import(pathToFileURL(`${dist}/${p}`).href);
const { GuestMemory, DirtyBitmap } = await load("memory/index.js");
const { StreamEncoder, StreamDecoder, isDataPage } = await load("stream/index.js");
const { RamSender } = await load("engine/ram-sender.js");
const { PageDigestTable } = await load("engine/page-digest-table.js");

const PAGE = 4096;
const size = mib * 2 ** 20;
const src = GuestMemory.create({ size });
const pages = size / PAGE;
/** A xorshift32 generator from `seed`: the same numbers on every run. */
function xorshift(seed) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x;
  };
}
// ¾ random data pages, ¼ zero pages, interleaved in blocks as a real guest's would be.
const fill = xorshift(0x12345678);
for (let p = 0; p < pages; p++) {
  if (p % 16 >= 12) continue;
  const v = src.pageView(p);
  const w = new Int32Array(v.buffer, v.byteOffset, 1024);
  for (let i = 0; i < 1024; i++) w[i] = fill();
}
const dst = GuestMemory.create({ size });
dst.prefault();
const decoder = new StreamDecoder({ guestPages: pages });
decoder.setRamSink?.(dst);
let targetCpu = 0;
let copyCpu = 0;
let bytes = 0;
/**
 * Feeds the stream to the target's decoder in fresh buffers cut from the stream as a whole,
 * as socket reads give: a read ends wherever the kernel's data does, so page data lands at
 * any alignment in a chunk. The read size is deliberately not a multiple of 8 (cutting at
 * frame starts or at 64 KiB would keep page data 8-byte aligned and hide what misaligned
 * copies into shared guest memory cost).
 */
const READ = 65_483;
const pending = [];
let pendingBytes = 0;
function receive(f, flush = false) {
  pending.push(f);
  pendingBytes += f.byteLength;
  bytes += f.byteLength;
  while (pendingBytes >= READ || (flush && pendingBytes > 0)) {
    const k0 = process.cpuUsage();
    const chunk = Buffer.allocUnsafe(Math.min(READ, pendingBytes));
    let filled = 0;
    while (filled < chunk.byteLength) {
      const head = pending[0];
      const take = Math.min(head.byteLength, chunk.byteLength - filled);
      chunk.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.byteLength) pending.shift();
      else pending[0] = head.subarray(take);
    }
    pendingBytes -= filled;
    const k = process.cpuUsage(k0);
    copyCpu += (k.user + k.system) / 1000;
    const c0 = process.cpuUsage();
    for (const r of decoder.push(chunk)) {
      if (r.type !== "RAM_PAGES" || r.inSink) continue;
      let at = 0;
      for (let i = 0; i < r.count; i++) {
        if (!isDataPage(r.kinds, i)) continue;
        dst.pageView(r.startPage + i).set(r.data.subarray(at, at + PAGE));
        at += PAGE;
      }
    }
    const c = process.cpuUsage(c0);
    targetCpu += (c.user + c.system) / 1000;
  }
}
const channel = {
  role: "source",
  peer: "bench",
  capabilities: {},
  async send(frames) {
    for (const f of frames) receive(f);
  },
  close: async () => {},
  destroy() {},
};
const cpu = async (f) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - t0 };
};

const encoder = new StreamEncoder();
for (const f of encoder.start({ config: new TextEncoder().encode("{}"), devices: [] })) receive(f);
const dirty = new DirtyBitmap(pages);
if (dirtyShare >= 1) dirty.setAll();
else {
  const pick = xorshift(0x9e3779b9);
  for (let p = 0; p < pages; p++) if (pick() >>> 0 < dirtyShare * 2 ** 32) dirty.set(p);
}
const table = new PageDigestTable(pages);
const sender = new RamSender(src, encoder, channel, table, 4 * 2 ** 20);
// The source's share: everything but the target's decode and the bench's chunk copies
// (each timed where it happens).
const both = await cpu(async () => {
  await sender.send(dirty, "snapshot");
  receive(new Uint8Array(0), true);
});
const sourceCpu = both.cpuMs - targetCpu - copyCpu;
const gb = bytes / 1e9;
console.log(
  JSON.stringify({
    dist,
    mib,
    wireGB: +gb.toFixed(3),
    sourceCpuMs: Math.round(sourceCpu),
    targetCpuMs: Math.round(targetCpu),
    chunkCopyCpuMs: Math.round(copyCpu),
    sourceGBps: +(gb / (sourceCpu / 1000)).toFixed(2),
    targetGBps: +(gb / (targetCpu / 1000)).toFixed(2),
    dirtyPages: dirty.count(),
    records: encoder.stats.records,
    sourceUsPerRecord: +((sourceCpu * 1000) / encoder.stats.records).toFixed(2),
    targetUsPerRecord: +((targetCpu * 1000) / encoder.stats.records).toFixed(2),
  }),
);
