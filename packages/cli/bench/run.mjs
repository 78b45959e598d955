#!/usr/bin/env node
// `npm run bench` (root): the one benchmark of issue #13. Every figure in
// docs/benchmarks.{md,json,html} comes from one invocation of this file, measured side by
// side on this machine in the same run:
//   1. the RAM-static 2 GiB VM: a bare socket moving the same bytes (from one hot buffer,
//      and from guest-sized memory into guest-sized memory), QEMU (when installed)
//      and mdevkit, interleaved round by round; then mdevkit and a bare socket over TLS;
//   2. the seed's VM (the demo's default) at a 10 Gbps cap, ≥ 5 runs;
//   3. the dirtying VM at 2 GiB against the bare socket on its own wire bytes, ≥ 5 runs;
//   4. scaling: RAM, dirty rate, device count, dirty-log sync, peak RSS.
// Every migration is verified (RAM SHA-256 and END digest equal on both sides, device
// descriptions equal); a run that does not verify is reported as a failure, never a figure.
//
// Usage: `npm run bench -- --help` (bench/options.mjs).
// Needs the packages built (`npm run bench` builds them first).
// First: tsyringe (through @mdevkit/core) needs reflect-metadata before any decorated class.
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PSK_CIPHERS } from "@mdevkit/core";
import { dirtyLogSync } from "../../core/bench/dirty-log-sync.mjs";
import { bareSocket, fastestBaseline } from "./bare-socket.mjs";
import { describeMachine, load1, memAvailable } from "./machine.mjs";
import { killChildren, migrateVerified } from "./mdevkit-run.mjs";
import { ALL_SECTIONS, BenchUsageError, parseBenchArgs, USAGE } from "./options.mjs";
import { killQemus, qemuMigrateVerified, qemuVersion, writeRandomBlob } from "./qemu.mjs";
import { writeReport } from "./report.mjs";
import { deviceCountVm, dirtyingVm, dirtyRateVm, ramStaticVm, seedVm } from "./scenarios.mjs";
import { medianBy } from "./stats.mjs";

let options;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof BenchUsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const { smoke, quick, outDir } = options;

/** What each mode runs (`--smoke`: tiny VMs, only to check the harness itself works). */
const PLAN = smoke
  ? {
      sideBySide: { mib: 256, rounds: 1 },
      seed: { mib: 256, runs: 1 },
      dirtying: { mib: 128, runs: 1 },
      ram: { sizes: [128, 256], runs: 1 },
      dirtyRate: { mib: 128, linkMBps: 125, shares: [0, 2] },
      devices: { mib: 256, counts: [1, 3], runs: 1 },
      dirtyLog: [512],
    }
  : quick
    ? {
        // 1 GiB, not the goal's 2 GiB: with QEMU installed, writing its 2 GiB VM's blob and
        // migrating it put quick mode past its two minutes on a slow host (136-142 s).
        sideBySide: { mib: 1024, rounds: 1 },
        seed: { mib: 512, runs: 2 },
        dirtying: { mib: 512, runs: 2 },
        ram: { sizes: [256, 512, 1024], runs: 1 },
        dirtyRate: { mib: 256, linkMBps: 125, shares: [0, 0.5, 2] },
        devices: { mib: 256, counts: [1, 4], runs: 1 },
        dirtyLog: [512, 2048, 8192],
      }
    : {
        sideBySide: { mib: 2048, rounds: 3 },
        seed: { mib: 2048, runs: 5 },
        dirtying: { mib: 2048, runs: 5 },
        ram: { sizes: [512, 1024, 2048, 4096, 8192], runs: 3 },
        dirtyRate: { mib: 512, linkMBps: 125, shares: [0, 0.25, 0.5, 1, 2] },
        devices: { mib: 256, counts: [1, 2, 4, 8], runs: 5 },
        dirtyLog: [512, 1024, 2048, 4096, 8192],
      };

const dir = mkdtempSync(join(tmpdir(), "mdevkit-bench-"));
const started = performance.now();

/**
 * For runs that measure cost, not convergence (the idle RAM-static VM, the RAM and device
 * series): a downtime limit far above anything they need. The engine counts the measured
 * fixed switchover costs against the limit, and on a heavily loaded machine those alone
 * can exceed the default 300 ms, so an idle VM with nothing left to send would never
 * switch over. The seed, dirtying and dirty-rate runs keep the default limit.
 */
const COST_ONLY = ["--downtime-limit", "30s"];
// Interrupted: no orphaned listen/migrate processes, no GiB-sized blob left in $TMPDIR.
for (const signal of ["SIGINT", "SIGTERM"])
  process.once(signal, () => {
    killChildren();
    killQemus();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
const log = (line) =>
  process.stderr.write(
    `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
  );
const loads = [];

/**
 * Both processes hold all guest RAM: skip a size the machine cannot hold with room to spare.
 * The processes of the run before may still be handing their RAM back (8 GiB takes
 * seconds), so a shortfall is looked at again for up to 30 s before the run is skipped.
 */
async function fits(mib) {
  const need = 2 * mib * 2 ** 20 + 2 * 2 ** 30;
  let avail = memAvailable();
  for (let waited = 0; avail < need && waited < 30_000; waited += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    avail = memAvailable();
  }
  return { ok: !(avail < need), avail };
}

/** A verified mdevkit migration, logged; `skipped` when the RAM is not there. */
async function mdevkit(label, config, opts) {
  const room = await fits(config.memoryMiB);
  if (!room.ok) {
    const why = `skipped: needs ${(2 * config.memoryMiB) / 1024 + 2} GiB free, ${(room.avail / 2 ** 30).toFixed(1)} GiB available`;
    log(`${label}: ${why}`);
    return { ok: false, skipped: true, error: why };
  }
  loads.push(load1());
  const r = await migrateVerified(dir, config, opts);
  log(
    r.ok
      ? `${label}: total ${r.result.totalTimeMs.toFixed(0)} ms, downtime ${r.result.downtimeMs.toFixed(0)} ms, ${(r.result.wireBytes / 1e9).toFixed(2)} GB, ${r.result.iterations} iterations, verified`
      : `${label}: FAILED — ${r.error}`,
  );
  return r;
}

/** The verified run with the median downtime (the first failure when any run failed). */
function medianRun(runs) {
  return medianBy(runs, (r) => r.result.downtimeMs);
}

/** Every verified run's downtime, ms, in run order. */
function downtimes(runs) {
  return runs.filter((r) => r.ok).map((r) => r.result.downtimeMs);
}

async function bare(label, bytes, opts) {
  const r = await bareSocket(bytes, opts);
  log(
    `${label}: bare ${opts?.pskHex ? `TLS (${r.protocol}) ` : ""}socket${opts?.guestMemory ? " (guest memory at both ends)" : ""} ${(bytes / 1e9).toFixed(2)} GB in ${r.ms.toFixed(0)} ms`,
  );
  return r;
}

/**
 * The bare socket on `bytes` as the baseline of an mdevkit run that took `mdevkitMs`; a run
 * slower than mdevkit is measured again (see {@link fastestBaseline}).
 */
function bareBaseline(label, bytes, mdevkitMs, opts) {
  return fastestBaseline(
    () => bare(label, bytes, opts),
    mdevkitMs,
    (slowMs) =>
      log(`${label}: the bare socket (${slowMs.toFixed(0)} ms) was slower than mdevkit; again`),
  );
}

const SECTIONS = options.sections;
const wanted = (section) => SECTIONS.includes(section);
mkdirSync(outDir, { recursive: true });

// --from a.json,b.json: no measuring; the report is rendered again from saved results, the
// sections of later files added to the first's (e.g. sections measured by `--only` runs).
if (options.from !== undefined) {
  const files = options.from;
  const runs = files.map((f) => JSON.parse(readFileSync(f, "utf8")));
  const merged = { ...runs[0] };
  const used = runs.map((r, i) =>
    ALL_SECTIONS.filter(
      (s) => r[s] !== undefined && runs.findIndex((x) => x[s] !== undefined) === i,
    ),
  );
  for (const [i, r] of runs.entries()) for (const s of used[i] ?? []) merged[s] = r[s];
  if (runs.length > 1)
    merged.sources = runs.map((r, i) => ({
      mode: r.mode,
      date: r.machine.date,
      durationS: r.durationS,
      sections: used[i],
      loadAverage: r.loadAverage,
    }));
  merged.loadAverage = { atRuns: runs.flatMap((r) => r.loadAverage?.atRuns ?? []) };
  merged.pending = ALL_SECTIONS.filter((s) => merged[s] === undefined);
  merged.finished = merged.pending.length === 0;
  const { paths } = writeReport(outDir, merged);
  process.stderr.write(`wrote ${paths.join(", ")}\n`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** Rewrites the report with what is measured so far, so a long run leaves results behind. */
function checkpoint() {
  results.durationS = (performance.now() - started) / 1000;
  results.loadAverage = { atRuns: loads, end: describeMachine().loadAverage };
  results.pending = SECTIONS.filter((s) => results[s] === undefined);
  results.finished = results.pending.length === 0;
  return writeReport(outDir, results);
}

const results = {
  mode: options.mode,
  plan: PLAN,
  machine: describeMachine(),
};
log(`mode ${results.mode}; writing to ${outDir}; page routines: ${results.machine.pageRoutines}`);

// 1. Side by side, interleaved round by round.
if (wanted("sideBySide")) {
  const { mib, rounds } = PLAN.sideBySide;
  const qemu = qemuVersion();
  const section = { mib, qemu: qemu ?? null, migrateArgs: COST_ONLY, rounds: [] };
  const psk = { file: join(dir, "bench.psk"), hex: randomBytes(32).toString("hex") };
  writeFileSync(psk.file, `${psk.hex}\n`, { mode: 0o600 });
  let blob;
  if (qemu) {
    const blobBytes = mib * 0.75 * 2 ** 20;
    const file = join(dir, "blob.bin");
    log(`QEMU: ${qemu}; writing a ${blobBytes / 2 ** 30} GiB random blob`);
    blob = { blob: file, blobBytes, blobSha256: writeRandomBlob(file, blobBytes) };
  } else {
    log("QEMU: qemu-system-x86_64 not found — the QEMU column is skipped");
  }
  for (let i = 0; i < rounds; i++) {
    const m = await mdevkit(`RAM-static ${mib} MiB, round ${i + 1}: mdevkit`, ramStaticVm(mib), {
      warmupMs: 0,
      migrateArgs: COST_ONLY,
    });
    const bytes = m.ok ? m.result.wireBytes : mib * 0.75 * 2 ** 20;
    const b = await bareBaseline(`RAM-static round ${i + 1}`, bytes, m.result?.totalTimeMs);
    // What any engine pays to read guest RAM and write it on the other side: no goal is
    // judged on it, so a slow run is not measured again.
    const g = await bare(`RAM-static round ${i + 1}`, bytes, { guestMemory: true });
    let q;
    if (blob) {
      q = await qemuMigrateVerified(dir, { mib, ...blob });
      log(
        q.ok
          ? `RAM-static round ${i + 1}: QEMU total ${q.totalTimeMs} ms, downtime ${q.downtimeMs} ms, ${(q.wireBytes / 1e9).toFixed(2)} GB, verified`
          : `RAM-static round ${i + 1}: QEMU FAILED — ${q.error}`,
      );
    }
    // The same VM over TLS with a pre-shared key, against a bare TLS socket on its bytes.
    const t = await mdevkit(
      `RAM-static ${mib} MiB, round ${i + 1}: mdevkit over TLS`,
      ramStaticVm(mib),
      {
        warmupMs: 0,
        migrateArgs: COST_ONLY,
        pskFile: psk.file,
      },
    );
    const tb = await bareBaseline(
      `RAM-static round ${i + 1}`,
      t.ok ? t.result.wireBytes : bytes,
      t.result?.totalTimeMs,
      { pskHex: psk.hex, ciphers: PSK_CIPHERS },
    );
    section.rounds.push({
      mdevkit: m,
      bare: b,
      bareGuestMemory: g,
      qemu: q ?? null,
      tls: { mdevkit: t, bare: tb },
    });
  }
  results.sideBySide = section;
  checkpoint();
}

// 2. The seed's VM at the seed's 10 Gbps cap.
if (wanted("seed")) {
  const { mib, runs } = PLAN.seed;
  const migrateArgs = ["--max-bandwidth", "10Gbps", "--auto-converge"];
  const section = { mib, migrateArgs, planned: runs, runs: [] };
  // Rewritten after every run: a 2 GiB seed run is minutes on a loaded machine.
  results.seed = section;
  for (let i = 0; i < runs; i++) {
    section.runs.push(
      await mdevkit(`seed VM ${mib} MiB, run ${i + 1}`, seedVm(mib), { migrateArgs }),
    );
    checkpoint();
  }
}

// 3. The dirtying VM, uncapped, each run followed by the bare socket on its wire bytes.
if (wanted("dirtying")) {
  const { mib, runs } = PLAN.dirtying;
  const migrateArgs = ["--auto-converge"];
  const section = { mib, migrateArgs, planned: runs, runs: [] };
  results.dirtying = section;
  for (let i = 0; i < runs; i++) {
    const m = await mdevkit(`dirtying VM ${mib} MiB, run ${i + 1}`, dirtyingVm(mib), {
      migrateArgs,
    });
    const b = m.ok
      ? await bareBaseline(`dirtying VM run ${i + 1}`, m.result.wireBytes, m.result.totalTimeMs)
      : null;
    section.runs.push({ mdevkit: m, bare: b });
    checkpoint();
  }
}

// 4a. Scaling with RAM (the RAM-static VM: its cost is the RAM).
if (wanted("ram")) {
  const { sizes, runs } = PLAN.ram;
  // One run per size let a single slow run (the 8 GiB point swung from 7.4 s to 13.6 s
  // between full runs on the same build) decide the line fit. Sizes go round-robin, so a
  // slow spell of the machine lands on one run of several sizes rather than on all runs
  // of one, and each point is the run with the median total time.
  const all = sizes.map(() => []);
  for (let round = 0; round < runs; round++)
    for (const [i, mib] of sizes.entries())
      all[i].push(
        await mdevkit(
          `RAM scaling ${mib} MiB${runs > 1 ? `, run ${round + 1}` : ""}`,
          ramStaticVm(mib),
          { warmupMs: 0, migrateArgs: COST_ONLY },
        ),
      );
  results.ram = sizes.map((mib, i) => ({
    mib,
    run: medianBy(all[i], (r) => r.result.totalTimeMs),
    totalsMs: all[i].filter((r) => r.ok).map((r) => r.result.totalTimeMs),
  }));
  checkpoint();
}

// 4b. Scaling with the device count.
if (wanted("devices")) {
  const { mib, counts, runs } = PLAN.devices;
  const section = { mib, runs, migrateArgs: COST_ONLY, points: [] };
  results.devices = section;
  for (const count of counts) {
    // A single run's downtime swings ±50 % here (scheduling on two shared cores), more
    // than the device count moves it: each point is the run with the median downtime.
    const all = [];
    for (let i = 0; i < runs; i++)
      all.push(
        await mdevkit(`${count} devices, run ${i + 1}`, deviceCountVm(mib, count), {
          warmupMs: 500,
          migrateArgs: COST_ONLY,
        }),
      );
    section.points.push({ count, run: medianRun(all), downtimesMs: downtimes(all) });
    checkpoint();
  }
}

// 4c. Scaling with the dirty rate, at a link cap, up to beyond the link (auto-converge).
if (wanted("dirtyRate")) {
  const { mib, linkMBps, shares } = PLAN.dirtyRate;
  const migrateArgs = ["--max-bandwidth", `${linkMBps}MB/s`, "--auto-converge"];
  const section = { mib, linkMBps, migrateArgs, points: [] };
  results.dirtyRate = section;
  for (const share of shares) {
    const pagesPerSecond = Math.round((share * linkMBps * 1e6) / 4096);
    section.points.push({
      share,
      pagesPerSecond,
      run: await mdevkit(
        `dirty rate ${(share * 100).toFixed(0)} % of the link (${pagesPerSecond} pages/s)`,
        dirtyRateVm(mib, pagesPerSecond),
        { migrateArgs },
      ),
    });
    checkpoint();
  }
}

// 4d. Dirty-log sync against RAM, in this process.
if (wanted("dirtyLog")) {
  results.dirtyLog = dirtyLogSync(PLAN.dirtyLog);
  log(
    `dirty-log sync: ${results.dirtyLog.map((r) => `${r.sizeMiB} MiB/${r.fraction * 100}% ${r.syncMs.toFixed(2)} ms`).join(", ")}`,
  );
}

const { paths, goals } = checkpoint();
rmSync(dir, { recursive: true, force: true });
const width = Math.max(...goals.map(([g]) => g.length));
process.stdout.write(
  `\nGoals of issue #13 (${results.mode} mode)\n${goals
    .map(([g, m, v]) => `  ${g.padEnd(width)}  ${v.replace(/\*\*/g, "").padEnd(12)}  ${m}`)
    .join("\n")}\n`,
);
log(`done in ${results.durationS.toFixed(0)} s; wrote ${paths.join(", ")}`);
