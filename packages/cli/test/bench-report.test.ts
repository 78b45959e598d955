// The benchmark's report (packages/cli/bench/report.mjs): verdicts come from verified runs
// only, and the hand-written parts of docs/benchmarks.md survive a regeneration.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: the benchmark is plain JavaScript (bench/ is not compiled).
import { writeReport } from "../bench/report.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A scratch folder for one report, removed after the test. */
function reportDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-report-"));
  dirs.push(dir);
  return dir;
}

const downtime = {
  stopDevicesMs: 1,
  finalRamMs: 10,
  deviceStopCopyMs: 1,
  endToLoadedMs: 5,
  resumeMs: 1,
  targetLoadMs: {},
};

/** A verified mdevkit run with these figures. */
function run(totalTimeMs: number, downtimeMs: number, wireBytes = 1.6e9) {
  return {
    ok: true,
    checks: { ramSha256: true, ramDigest: true, devices: true },
    result: {
      totalTimeMs,
      downtimeMs,
      downtime,
      iterations: 1,
      expectedDowntimeMs: 10,
      finalPages: 100,
      wireBytes,
      dataPages: 1,
      zeroPages: 1,
      deviceBytes: {},
      ramBytes: 2 ** 31,
      maxThrottle: 0,
    },
    targetPreallocMs: 100,
    sourcePeakRssKiB: 2.1 * 2 ** 20,
    targetPeakRssKiB: 2.1 * 2 ** 20,
  };
}

const failed = { ok: false, error: "verification failed: ramSha256" };

function results() {
  return {
    mode: "smoke",
    plan: {},
    machine: {
      cpu: "Test CPU",
      cores: 2,
      ramBytes: 2 ** 34,
      node: "v20.20.2",
      platform: "linux x64",
      date: "2026-11-30T09:00:00.000Z",
      loadAverage: [1, 1, 1],
    },
    loadAverage: { atRuns: [1, 2] },
    durationS: 60,
    pending: [],
    finished: true,
    sideBySide: {
      mib: 2048,
      qemu: "QEMU emulator version 7.2.22",
      rounds: [
        {
          mdevkit: run(1500, 20),
          bare: { bytes: 1.6e9, ms: 1000, bytesPerSecond: 1.6e9 },
          qemu: { ok: true, totalTimeMs: 2000, downtimeMs: 30, wireBytes: 1.6e9 },
        },
      ],
    },
    // The fast run did not verify: it must not count.
    dirtying: {
      mib: 2048,
      migrateArgs: [],
      runs: [
        { mdevkit: run(1100, 20), bare: { bytes: 1.6e9, ms: 1000, bytesPerSecond: 1.6e9 } },
        { mdevkit: failed, bare: null },
      ],
    },
  };
}

/** `base` with its one side-by-side round changed by `change`. */
function withRound(
  base: ReturnType<typeof results>,
  change: (round: ReturnType<typeof results>["sideBySide"]["rounds"][number]) => object,
) {
  const rounds = base.sideBySide.rounds.map(change);
  return { ...base, sideBySide: { ...base.sideBySide, rounds } };
}

describe("the benchmark report", () => {
  it("judges the goals from verified runs and lists failed runs as failures", () => {
    const dir = reportDir();
    const { goals } = writeReport(dir, results());
    const verdict = (prefix: string) => goals.find((g: string[]) => g[0]?.startsWith(prefix))?.[2];
    // 1500 ms against QEMU's 2000 ms is 0.75×: met; against the socket's 1000 ms, 0.67×: not.
    expect(verdict("RAM-static: total time")).toBe("**met**");
    expect(verdict("RAM-static: rate")).toBe("**not met**");
    expect(verdict("Dirtying VM: total")).toBe("**met**");
    expect(verdict("Seed VM: downtime p95 < 500")).toBe("not measured (section not reached)");
    const md = readFileSync(join(dir, "benchmarks.md"), "utf8");
    expect(md).toContain("1 of 2 runs failed: verification failed: ramSha256");
    expect(md).toContain("| 2 | failed: verification failed: ramSha256 |");
  });

  it("fits the RAM line through each size's median run and lists every run's total", () => {
    const dir = reportDir();
    // Median runs on an exact line (1000 ms a GiB): R² 1 although one 4 GiB run was slow.
    const ram = [1024, 2048, 4096].map((mib) => ({
      mib,
      run: run(mib, 10),
      totalsMs: mib === 4096 ? [4096, 9000, 4000] : [mib, mib, mib],
    }));
    const { goals } = writeReport(dir, { ...results(), ram });
    const linear = goals.find((g: string[]) => g[0]?.startsWith("Cost linear in RAM"));
    expect(linear?.[1]).toContain("R² 1.000");
    expect(linear?.[2]).toBe("**met**");
    const md = readFileSync(join(dir, "benchmarks.md"), "utf8");
    expect(md).toContain("3 verified runs each");
    expect(md).toContain("| 4 GiB | 4096 ms | 4096 ms, 9000 ms, 4000 ms |");
  });

  it("sets mdevkit over TLS against the bare TLS socket and mdevkit on TCP", () => {
    const dir = reportDir();
    const base = results();
    const tls = {
      mdevkit: run(2400, 5),
      bare: { bytes: 1.6e9, ms: 2000, bytesPerSecond: 0.8e9, protocol: "TLSv1.3" },
    };
    writeReport(
      dir,
      withRound(base, (round) => ({ ...round, tls })),
    );
    const md = readFileSync(join(dir, "benchmarks.md"), "utf8");
    expect(md).toContain("| bare Node TLSv1.3 socket, 1 MiB writes | 2000 ms |");
    // 2400 ms against the TLS socket's 2000 ms, and against mdevkit's 1500 ms on TCP.
    expect(md).toMatch(
      /\| `mdevkit migrate` over `tls:\/\/` with `--psk-file` \| 2400 ms \| 5\.0 ms \| [^|]+ \| 1\.20× \| 1\.60× \| 2400 ms \/ 2000 ms \|/,
    );
    // A report of rounds measured before the TLS rows has no TLS table.
    writeReport(dir, base);
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).not.toContain("over TLS");
  });

  it("sets the socket with guest memory at both ends beside the goal's baseline, without judging on it", () => {
    const dir = reportDir();
    const base = results();
    const bareGuestMemory = { bytes: 1.6e9, ms: 1250, bytesPerSecond: 1.28e9 };
    const { goals } = writeReport(
      dir,
      withRound(base, (round) => ({ ...round, bareGuestMemory })),
    );
    const md = readFileSync(join(dir, "benchmarks.md"), "utf8");
    // 1250 ms against the hot socket's 1000 ms and QEMU's 2000 ms.
    expect(md).toMatch(
      /\| the same socket, guest memory at both ends [^|]*\| 1250 ms \| – \| [^|]+ \| [^|]+ \| 1\.25× \| 0\.63× \|/,
    );
    // Per round: mdevkit's 1500 ms is 1.20× the guest-memory socket.
    expect(md).toMatch(
      /\| 1 \| 1000 ms \| 1250 ms \| 2000 ms \(30\.0 ms\) \| 1500 ms \(20\.0 ms\) \| 1\.50× \| 1\.20× \| 0\.75× \|/,
    );
    // The goal against the bare socket is still judged on the hot one.
    const rate = goals.find((g: string[]) => g[0]?.startsWith("RAM-static: rate"));
    expect(rate?.[1]).toContain("bare / mdevkit 0.67×");
    // Results saved before this baseline existed render without it.
    writeReport(dir, base);
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).not.toContain("guest memory");
  });

  it("says the bare socket read into one reused buffer only for rounds measured that way", () => {
    const dir = reportDir();
    const base = results();
    writeReport(
      dir,
      withRound(base, (round) => ({ ...round, bare: { ...round.bare, readBuffer: "reused" } })),
    );
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).toContain(
      "| bare Node socket between two processes, 1 MiB writes, read into one reused 1 MiB buffer |",
    );
    // Results saved before, whose receiver took a fresh buffer per read, do not claim it.
    writeReport(dir, base);
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).not.toContain("reused 1 MiB buffer");
  });

  it("shows every run of a baseline measured again, judged on the fastest", () => {
    const dir = reportDir();
    const base = results();
    const bare = { bytes: 1.6e9, ms: 640, bytesPerSecond: 2.5e9, attemptsMs: [2793, 640] };
    const dirtying = { ...base.dirtying, runs: [{ mdevkit: run(900, 20), bare }] };
    const { goals } = writeReport(dir, { ...base, dirtying });
    const row = goals.find((g: string[]) => g[0]?.startsWith("Dirtying VM: total"));
    expect(row?.[2]).toBe("**not met**");
    const md = readFileSync(join(dir, "benchmarks.md"), "utf8");
    expect(md).toContain("640 ms (fastest of 2793 ms, 640 ms)");
    expect(md).toContain("measured again, up to three runs in all");
    // Results saved before baselines were measured again do not claim they were.
    writeReport(dir, base);
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).not.toContain("measured again");
  });

  it("leaves a goal unjudged when its bare socket was slower than mdevkit", () => {
    // No migration beats the link it runs over: such a baseline was slowed itself (a run
    // whose bare socket imported core measured 0.89x and would have read "met").
    const dir = reportDir();
    const base = results();
    const dirtying = {
      ...base.dirtying,
      runs: [{ mdevkit: run(900, 20), bare: { bytes: 1.6e9, ms: 1000, bytesPerSecond: 1.6e9 } }],
    };
    const { goals } = writeReport(dir, { ...base, dirtying });
    const row = goals.find((g: string[]) => g[0]?.startsWith("Dirtying VM: total"));
    expect(row?.[2]).toBe("not judged: baseline suspect");
    expect(row?.[1]).toContain("slower than mdevkit in 1 of 1 runs");
    expect(readFileSync(join(dir, "benchmarks.md"), "utf8")).toContain("**Baseline suspect:**");
  });

  it("keeps the hand-written text above and below the generated block", () => {
    const dir = reportDir();
    const file = join(dir, "benchmarks.md");
    writeFileSync(file, "# Intro by hand\n\nfirst\n");
    writeReport(dir, results());
    const once = readFileSync(file, "utf8");
    writeFileSync(file, `${once}\n## Tail by hand\n\nlast\n`);
    writeReport(dir, results());
    const twice = readFileSync(file, "utf8");
    expect(twice.startsWith("# Intro by hand")).toBe(true);
    expect(twice.trimEnd().endsWith("## Tail by hand\n\nlast")).toBe(true);
    expect(twice.match(/BEGIN GENERATED/g)).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, "benchmarks.json"), "utf8")).mode).toBe("smoke");
    expect(readFileSync(join(dir, "benchmarks.html"), "utf8")).toMatch(/<svg\b/);
  });
});
