#!/usr/bin/env node
// The RAM-static scenario of issue #13, interleaved with a bare socket moving the same
// bytes: `listen --once --prealloc MiB` and `migrate --config … --warmup 0` as two
// processes on TCP loopback, 1 idle vCPU, no devices, ¾ random pages and ¼ zero pages.
// Usage: node packages/core/bench/ram-static.mjs [runs=3] [MiB=2048] [--cpu-prof DIR]
// Env: MDEVKIT_BENCH_CONFIG=path overrides the VM config (e.g. the dirtying demo VM).
// Prints one JSON line per run and a median summary. Needs the CLI and core built.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../cli/bin/mdevkit.js", import.meta.url));
const BARE = fileURLToPath(new URL("../../cli/bench/bare-socket.mjs", import.meta.url));
const args = process.argv.slice(2);
const profIndex = args.indexOf("--cpu-prof");
const profDir = profIndex >= 0 ? args.splice(profIndex, 2)[1] : undefined;
// --compare DIR: also run DIR's build (a checkout of another commit, built) interleaved.
const cmpIndex = args.indexOf("--compare");
const compareDir = cmpIndex >= 0 ? args.splice(cmpIndex, 2)[1] : undefined;
const extraIndex = args.indexOf("--");
const extra = extraIndex >= 0 ? args.splice(extraIndex).slice(1) : [];
const runs = Number(args[0] ?? 3);
const mib = Number(args[1] ?? 2048);

const dir = mkdtempSync(join(tmpdir(), "mdevkit-ram-static-"));
const configPath =
  process.env.MDEVKIT_BENCH_CONFIG ??
  (() => {
    const p = join(dir, "vm.json");
    writeFileSync(
      p,
      JSON.stringify({
        memoryMiB: mib,
        vcpus: 1,
        initialFill: 0.75,
        workloads: [{ pattern: "idle" }],
        devices: [],
      }),
    );
    return p;
  })();

/** Starts an mdevkit child speaking --events; resolves events by name. */
function child(cliArgs, prof, bin = BIN) {
  const nodeArgs = prof ? ["--cpu-prof", "--cpu-prof-dir", prof] : [];
  const p = spawn(process.execPath, [...nodeArgs, bin, ...cliArgs, "--events"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const waiting = new Map();
  const seen = new Map();
  createInterface({ input: p.stdout }).on("line", (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    seen.set(e.event, e);
    waiting.get(e.event)?.(e);
    if (e.event === "error") waiting.get("result")?.(e);
  });
  const exited = new Promise((r) => p.once("close", r));
  return {
    p,
    exited,
    wait: (name) =>
      new Promise((resolve, reject) => {
        if (seen.has(name)) return resolve(seen.get(name));
        waiting.set(name, resolve);
        exited.then((code) =>
          seen.has(name)
            ? resolve(seen.get(name))
            : reject(new Error(`exit ${code} before ${name}`)),
        );
      }),
  };
}

/** CPU seconds [user, system] (all threads) a process used so far, from /proc. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return [Number(fields[11]) / 100, Number(fields[12]) / 100];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

async function migration(bin = BIN) {
  const target = child(
    ["listen", "--on", "tcp://127.0.0.1:0", "--once", "--prealloc", String(mib)],
    profDir,
    bin,
  );
  const { url } = await target.wait("listening");
  const source = child(
    ["migrate", "--to", url, "--config", configPath, "--warmup", "0", ...extra],
    profDir,
    bin,
  );
  // CPU from the start of the migration proper (VM built and filled) to its result.
  await source.wait("phase");
  const cpu0 = [cpuSeconds(source.p.pid), cpuSeconds(target.p.pid)];
  const e = await source.wait("result");
  const cpu1 = [cpuSeconds(source.p.pid), cpuSeconds(target.p.pid)];
  await Promise.all([source.exited, target.exited]);
  if (e.event === "result")
    e.result.cpu = {
      sourceS: +(cpu1[0][0] + cpu1[0][1] - cpu0[0][0] - cpu0[0][1]).toFixed(2),
      sourceSysS: +(cpu1[0][1] - cpu0[0][1]).toFixed(2),
      targetS: +(cpu1[1][0] + cpu1[1][1] - cpu0[1][0] - cpu0[1][1]).toFixed(2),
      targetSysS: +(cpu1[1][1] - cpu0[1][1]).toFixed(2),
    };
  if (e.event !== "result") throw new Error(`migration failed: ${e.code} ${e.message}`);
  return e.result;
}

function bare(bytes) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BARE, String(bytes)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.once("close", (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`bare ${code}`)),
    );
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const baseRows = [];
const summary = (r, b) => ({
  totalMs: Math.round(r.totalTimeMs),
  ratioToBare: +(b.ms / r.totalTimeMs).toFixed(2),
  downtimeMs: +r.downtimeMs.toFixed(1),
  cpu: r.cpu,
});
for (let i = 0; i < runs; i++) {
  const r = await migration();
  const base = compareDir
    ? await migration(join(compareDir, "packages/cli/bin/mdevkit.js"))
    : undefined;
  const b = await bare(r.wireBytes);
  if (base) {
    baseRows.push(summary(base, b));
    console.log(JSON.stringify({ compare: compareDir, ...summary(base, b) }));
  }
  const row = {
    totalMs: Math.round(r.totalTimeMs),
    bareMs: Math.round(b.ms),
    ratioToBare: +(b.ms / r.totalTimeMs).toFixed(2),
    downtimeMs: +r.downtimeMs.toFixed(1),
    downtime: r.downtime,
    iterations: r.iterations.length,
    wireBytes: r.wireBytes,
    expectedDowntimeMs: r.iterations.at(-1)?.expectedDowntimeMs,
    finalPages: r.finalPages,
    cpu: r.cpu,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
}
console.log(
  JSON.stringify({
    median: {
      totalMs: median(rows.map((r) => r.totalMs)),
      bareMs: median(rows.map((r) => r.bareMs)),
      ratioToBare: median(rows.map((r) => r.ratioToBare)),
      downtimeMs: median(rows.map((r) => r.downtimeMs)),
      sourceCpuS: median(rows.map((r) => r.cpu.sourceS)),
      targetCpuS: median(rows.map((r) => r.cpu.targetS)),
    },
    ...(baseRows.length > 0
      ? {
          compareMedian: {
            totalMs: median(baseRows.map((r) => r.totalMs)),
            ratioToBare: median(baseRows.map((r) => r.ratioToBare)),
            downtimeMs: median(baseRows.map((r) => r.downtimeMs)),
            sourceCpuS: median(baseRows.map((r) => r.cpu.sourceS)),
            targetCpuS: median(baseRows.map((r) => r.cpu.targetS)),
          },
        }
      : {}),
  }),
);
