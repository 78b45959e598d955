// `npm run bench` entry for issue #5: a 2 GiB VM with a moderate dirty rate (the demo VM:
// two vCPUs dirtying ~100 MB/s, half of RAM zero, an mtty device), live-migrated between two
// processes on TCP loopback — uncapped and at a 10 Gbps cap — with the same bytes through a
// bare socket measured in the same run as the baseline.
// An entry point: tsyringe (through @mdevkit/core) needs reflect-metadata loaded first.
import "reflect-metadata";
import { cpus } from "node:os";
import { MdevkitChild } from "../dist/index.js";
import { bareSocket } from "./bare-socket.mjs";

const MIB = Number(process.env.MDEVKIT_BENCH_MIB ?? 2048);
const GB = (b) => `${(b / 1e9).toFixed(2)} GB`;
const rate = (b) => `${(b / 1e9).toFixed(2)} GB/s`;

async function migrate(extra) {
  const target = new MdevkitChild([
    "listen",
    "--on",
    "tcp://127.0.0.1:0",
    "--once",
    "--prealloc",
    String(MIB),
  ]);
  try {
    const { url } = await target.waitFor("listening", 120_000);
    const source = new MdevkitChild([
      "migrate",
      "--to",
      url,
      "--memory",
      String(MIB),
      "--warmup",
      "1000",
      ...extra,
    ]);
    try {
      const { result } = await source.result(600_000);
      return result;
    } finally {
      source.kill();
    }
  } finally {
    target.kill();
  }
}

const runs = [];
for (const [label, extra] of [
  ["uncapped", []],
  ["10 Gbps cap", ["--max-bandwidth", "10Gbps"]],
]) {
  const r = await migrate(extra);
  const bare = await bareSocket(r.wireBytes);
  runs.push({ label, r, bare });
}
console.log(
  `\nmigration of a ${MIB} MiB VM, two processes, TCP loopback — ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}`,
);
console.log(
  "run            total      downtime  iters  wire       migration rate  bare socket (same bytes)  total / bare",
);
for (const { label, r, bare } of runs) {
  const migRate = (r.wireBytes / r.totalTimeMs) * 1000;
  console.log(
    `${label.padEnd(14)} ${`${r.totalTimeMs.toFixed(0)} ms`.padEnd(10)} ${`${r.downtimeMs.toFixed(0)} ms`.padEnd(9)} ${String(r.iterations.length).padEnd(6)} ${GB(r.wireBytes).padEnd(10)} ${rate(migRate).padEnd(15)} ${`${bare.ms.toFixed(0)} ms (${rate(bare.bytesPerSecond)})`.padEnd(25)} ${(r.totalTimeMs / bare.ms).toFixed(2)}×`,
  );
}
console.log(
  "published GVT-g (KVM Forum 2017, 2 GB guest, 10 Gbps): downtime < 500 ms, total 2.5–3 s",
);
