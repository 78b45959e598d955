// One verified `mdevkit` migration between two processes on TCP (or TLS) loopback:
// `listen --once --prealloc --vcpu-threads` (RAM backed and prefaulted and the vCPU threads
// started before the source connects, like QEMU's `-incoming -mem-prealloc`) and
// `migrate --config`. A run counts only if it verifies:
// SHA-256 of all guest RAM equal on both sides (source at pause, target before its guest
// runs), END's RAM digest equal, and every device's description equal.
// tsyringe (through @mdevkit/core) needs reflect-metadata loaded before the CLI.
import "reflect-metadata";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MdevkitChild } from "../dist/index.js";

/** Peak resident set (VmHWM) of a live process, kB; NaN once it is gone. */
export function peakRssKiB(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

let configs = 0;

/** Children alive now: killed if the benchmark itself is interrupted. */
const live = new Set();

/** Kills every child still running (the benchmark was interrupted). */
export function killChildren() {
  for (const c of live) c.kill();
}

function track(child) {
  live.add(child);
  void child.exited.then(() => live.delete(child));
  return child;
}

/**
 * Migrates the VM `config` (a VM config object) and verifies it. `migrateArgs` go to
 * `migrate` (e.g. `--max-bandwidth 10Gbps`); with `pskFile` (a pre-shared key file, as
 * `mdevkit keygen psk` writes) the migration runs over TLS instead of plain TCP. Resolves
 * with the source's result, the checks and both processes' peak RSS; a failed or
 * unverified run resolves with `ok: false` and the reason (the benchmark reports it
 * instead of a figure).
 */
export async function migrateVerified(
  dir,
  config,
  { migrateArgs = [], warmupMs = 1000, pskFile } = {},
) {
  const file = join(dir, `vm-${++configs}.json`);
  writeFileSync(file, JSON.stringify(config));
  const tls = pskFile ? ["--psk-file", pskFile] : [];
  const target = track(
    new MdevkitChild([
      "listen",
      "--on",
      pskFile ? "tls://127.0.0.1:0" : "tcp://127.0.0.1:0",
      ...tls,
      "--once",
      "--verify-ram",
      "--prealloc",
      String(config.memoryMiB),
      "--vcpu-threads",
      String(config.vcpus ?? 1),
    ]),
  );
  let source;
  try {
    const listening = await target.waitFor("listening", 600_000);
    source = track(
      new MdevkitChild([
        "migrate",
        "--to",
        listening.url,
        "--config",
        file,
        "--verify-ram",
        "--warmup",
        String(warmupMs),
        ...tls,
        ...migrateArgs,
      ]),
    );
    // A `--once` listener exits right after its result, sometimes before its VmHWM can be
    // read: the peak is also sampled while both run (it only grows), and the larger kept.
    const peaks = { source: 0, target: 0 };
    // A gone process reads NaN, which Math.max would spread: it keeps the last reading.
    const higher = (kept, pid) => Math.max(kept, peakRssKiB(pid) || 0);
    const sample = () => {
      peaks.source = higher(peaks.source, source.process.pid);
      peaks.target = higher(peaks.target, target.process.pid);
    };
    const sampler = setInterval(sample, 100);
    let src;
    let dst;
    try {
      src = await source.result(1_800_000);
      sample();
      dst = await target.waitFor("result", 600_000);
      sample();
    } finally {
      clearInterval(sampler);
    }
    const sourcePeakRssKiB = peaks.source || Number.NaN;
    const targetPeakRssKiB = peaks.target || Number.NaN;
    const r = src.result;
    const t = dst.result;
    const checks = {
      ramSha256: typeof r.ramSha256 === "string" && r.ramSha256 === t.ramSha256,
      ramDigest: r.ramDigest === t.ramDigest,
      devices: JSON.stringify(r.devices) === JSON.stringify(t.devices),
    };
    const ok = checks.ramSha256 && checks.ramDigest && checks.devices;
    return {
      ok,
      ...(ok ? {} : { error: `verification failed: ${JSON.stringify(checks)}` }),
      checks,
      result: trim(r),
      targetPreallocMs: listening.preallocMs ?? Number.NaN,
      sourcePeakRssKiB,
      targetPeakRssKiB,
    };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err) };
  } finally {
    source?.kill();
    target.kill();
  }
}

/** The parts of a source result the report uses (the throughput samples are dropped). */
function trim(r) {
  return {
    totalTimeMs: r.totalTimeMs,
    downtimeMs: r.downtimeMs,
    downtime: r.downtime,
    iterations: r.iterations.length,
    expectedDowntimeMs: r.iterations.at(-1)?.expectedDowntimeMs,
    finalPages: r.finalPages,
    wireBytes: r.wireBytes,
    dataPages: r.dataPages,
    zeroPages: r.zeroPages,
    deviceBytes: r.deviceBytes,
    ramBytes: r.ramBytes,
    maxThrottle: r.maxThrottle,
  };
}
