// Migration stream throughput: 2 GiB of guest RAM encoded, sent through a UNIX socket and
// TCP loopback to a receiver process that decodes it and copies every page once, compared
// side by side with the same number of bytes through a bare socket pipe in the same run.
//
// The source "guest RAM" is a 64 MiB buffer reused for every 64 MiB of the 2 GiB (page p is
// a view at p mod 16384), so the bench allocates no 2 GiB region; the receiver does the same.
// Content: "random" (no zero pages) and "half-zero" (every other 64-page block is zero).
// Set MDEVKIT_BENCH_GIB to change the size.
import { fork } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PAGE_SIZE, StreamDecoder, StreamEncoder } from "../dist/stream/index.js";
import { connect } from "../dist/transport/index.js";

const GIB = Number(process.env.MDEVKIT_BENCH_GIB ?? 2);
const TOTAL = GIB * 1024 ** 3;
const PAGES = TOTAL / PAGE_SIZE;
const WINDOW = 64 * 1024 * 1024;
const WINDOW_PAGES = WINDOW / PAGE_SIZE;
const RUN = 256; // pages per RAM_PAGES record: 1 MiB of data
const here = new URL(".", import.meta.url).pathname;

function makeRam(kind) {
  const ram = new Uint8Array(WINDOW);
  randomFillSync(ram);
  if (kind === "half-zero")
    for (let p = 0; p < WINDOW_PAGES; p += 128) ram.fill(0, p * PAGE_SIZE, (p + 64) * PAGE_SIZE);
  return ram;
}

function startReceiver(mode, transport, extra = []) {
  const path = join(tmpdir(), `mdevkit-bench-${process.pid}-${mode}.sock`);
  const child = fork(join(here, "stream-receiver.mjs"), [mode, transport, path, ...extra], {
    stdio: "inherit",
  });
  const messages = [];
  const waiters = [];
  child.on("message", (m) => (waiters.length ? waiters.shift()(m) : messages.push(m)));
  const next = () => new Promise((r) => (messages.length ? r(messages.shift()) : waiters.push(r)));
  return { child, next };
}

async function bare(transport) {
  const rx = startReceiver("bare", transport, [String(TOTAL)]);
  const { url } = await rx.next();
  const socket = netConnect(
    url.startsWith("unix://")
      ? { path: url.slice(7) }
      : { host: "127.0.0.1", port: Number(url.split(":").pop()) },
  );
  await new Promise((r) => socket.once("connect", r));
  socket.setNoDelay?.(true);
  const chunk = makeRam("random").subarray(0, 1024 * 1024);
  const t0 = performance.now();
  for (let sent = 0; sent < TOTAL; sent += chunk.byteLength) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
  }
  await rx.next();
  const s = (performance.now() - t0) / 1000;
  socket.destroy();
  return { seconds: s, wireBytes: TOTAL };
}

async function streamed(transport, content) {
  const ram = makeRam(content);
  const rx = startReceiver("stream", transport, [String(PAGES)]);
  const { url } = await rx.next();
  const source = await connect(url);
  const enc = new StreamEncoder();
  const t0 = performance.now();
  await source.send(enc.start({ config: new TextEncoder().encode('{"bench":true}'), devices: [] }));
  const views = new Array(RUN);
  for (let p = 0; p < PAGES; p += RUN) {
    const base = (p % WINDOW_PAGES) * PAGE_SIZE;
    for (let i = 0; i < RUN; i++)
      views[i] = ram.subarray(base + i * PAGE_SIZE, base + (i + 1) * PAGE_SIZE);
    await source.send(enc.ramPages(p, views));
  }
  await source.send(enc.precopyEnd());
  await source.send(enc.end(new Uint8Array(32)));
  const done = await rx.next();
  const s = (performance.now() - t0) / 1000;
  source.destroy();
  return {
    seconds: s,
    wireBytes: enc.stats.bytes,
    dataPages: done.dataPages,
    zeroPages: done.zeroPages,
  };
}

function inProcess(content) {
  // Encode + decode without a socket: the codec's own ceiling (CRC32C both ways, zero scan).
  const ram = makeRam(content);
  const enc = new StreamEncoder();
  const dec = new StreamDecoder();
  const views = new Array(RUN);
  const t0 = performance.now();
  for (const f of enc.start({ config: new TextEncoder().encode("{}"), devices: [] }))
    for (const _ of dec.push(f));
  dec.setGuestPageCount(PAGES);
  for (let p = 0; p < PAGES; p += RUN) {
    const base = (p % WINDOW_PAGES) * PAGE_SIZE;
    for (let i = 0; i < RUN; i++)
      views[i] = ram.subarray(base + i * PAGE_SIZE, base + (i + 1) * PAGE_SIZE);
    for (const f of enc.ramPages(p, views)) for (const _ of dec.push(f));
  }
  return (performance.now() - t0) / 1000;
}

const gbps = (bytes, s) => (bytes / s / 1e9).toFixed(2);
const cpu =
  (readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/) ?? [])[1] ?? "unknown";
console.log(
  `stream bench: ${GIB} GiB guest RAM, ${RUN}-page records; node ${process.version}; CPU ${cpu}`,
);
for (const content of ["random", "half-zero"]) {
  const s = inProcess(content);
  console.log(`  in-process encode+decode (${content}): ${gbps(TOTAL, s)} GB/s of guest RAM`);
}
const rows = [];
for (const transport of ["unix", "tcp"]) {
  const base = await bare(transport);
  for (const content of ["random", "half-zero"]) {
    const r = await streamed(transport, content);
    rows.push({
      transport,
      content,
      bareGBps: Number(gbps(TOTAL, base.seconds)),
      streamGBps: Number(gbps(TOTAL, r.seconds)),
      wireGiB: Number((r.wireBytes / 1024 ** 3).toFixed(3)),
      ratio: Number((base.seconds / r.seconds).toFixed(2)),
    });
  }
}
console.table(rows);
console.log(
  "ratio = bare-socket time / stream time for the same 2 GiB of guest RAM (>1: the stream is faster, thanks to zero pages)",
);
