// Issue #14 item 2, between real processes: a target that stops reading at switchover
// never keeps the guest paused. Before the fix the source sat in a socket write: the guest
// stayed paused for as long as the target liked, and SIGINT was swallowed.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { type ChildEvent, MDEVKIT_BIN, type MdevkitChild } from "@mdevkit/cli";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanup,
  eventOf,
  exitOf,
  fixture,
  spawnEvents,
  startTarget,
  transcript,
  writeJson,
} from "../helpers/processes.js";

const fakes = new Set<ChildProcess>();
const stopped = new Set<ChildProcess>();
afterEach(async () => {
  // A SIGSTOPped process takes SIGKILL; SIGCONT first anyway, so nothing lingers stopped.
  for (const p of stopped) p.kill("SIGCONT");
  stopped.clear();
  for (const f of fakes) f.kill("SIGKILL");
  fakes.clear();
  await cleanup();
});

/** The fake target of fixtures/stalling-target.mjs: healthy until PRECOPY_END, then it stops reading. */
async function stallingTarget(args: readonly string[] = []): Promise<{ url: string }> {
  const child = spawn(process.execPath, [fixture("stalling-target.mjs"), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  fakes.add(child);
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      const e = JSON.parse(line) as { event: string; url?: string };
      if (e.event === "listening" && e.url) resolve({ url: e.url });
    });
    child.once("exit", (code) => reject(new Error(`fake target exited (${code})`)));
  });
}

/**
 * A VM that rewrites its 64 MiB sequentially many times a second: whatever precopy sent,
 * the final RAM pass is far more than the sockets between two processes hold, so a target
 * that stops reading leaves the source blocked in a write with the VM paused.
 */
function busyVm(memoryMiB = 64): string {
  return writeJson("busy-vm.json", {
    name: "busy-vm",
    memoryMiB,
    vcpus: 1,
    workloads: [{ pattern: "sequential", pagesPerSecond: 100_000 }],
    initialFill: 0.5,
    devices: [{ slot: "00:05.0", plugin: "mtty", deviceType: "mtty-2" }],
  });
}

/** Resolves when `child` printed a phase event for `phase`. */
function onPhase(child: MdevkitChild, phase: string): Promise<void> {
  return new Promise((resolve) => {
    if (child.events.some((e) => e.event === "phase" && e.phase === phase)) resolve();
    child.on((e) => {
      if (e.event === "phase" && e.phase === phase) resolve();
    });
  });
}

/** The source's error event: rolled back, the VM resumed on the source. */
function expectRolledBack(source: MdevkitChild, code: string): void {
  const error = eventOf(source, "error");
  expect(error.code, transcript(source)).toBe(code);
  expect(error.rolledBack).toBe(true);
  expect(["switchover", "handover"]).toContain(error.phase);
  expect(source.events.some((e) => e.event === "result")).toBe(false);
}

// Generous bounds only: each run must end within 30 s of the fault, where before it never did.
describe("a target that stops reading at switchover", { timeout: 120_000 }, () => {
  it("SIGINT of migrate cancels at once: the VM resumes, one line, non-zero exit", async () => {
    const target = await stallingTarget();
    // No deadline could end this run: only the SIGINT can. Spawned by hand to read stderr.
    const source = spawn(
      process.execPath,
      [
        MDEVKIT_BIN,
        "migrate",
        "--to",
        target.url,
        "--config",
        busyVm(),
        "--warmup",
        "100",
        "--downtime-limit",
        "5000",
        "--switchover-timeout",
        "1800000",
        "--peer-timeout",
        "1800000",
        "--events",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    fakes.add(source);
    const events: ChildEvent[] = [];
    let stderr = "";
    source.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      source.once("close", (code, signal) => resolve({ code, signal })),
    );
    await new Promise<void>((resolve) => {
      createInterface({ input: source.stdout }).on("line", (line) => {
        const e = JSON.parse(line) as ChildEvent;
        events.push(e);
        if (e.event === "phase" && e.phase === "switchover") resolve();
      });
      void exited.then(() => resolve());
    });
    // Let the final RAM pass fill the sockets; whenever SIGINT lands, it must end the wait.
    await new Promise((r) => setTimeout(r, 500));
    source.kill("SIGINT");
    const late = setTimeout(() => source.kill("SIGKILL"), 30_000);
    const exit = await exited;
    clearTimeout(late);
    expect(exit, stderr).toEqual({ code: 1, signal: null });
    const error = events.find((e) => e.event === "error");
    expect(error).toMatchObject({ code: "ECANCELED", rolledBack: true });
    expect(["switchover", "handover"]).toContain(error?.event === "error" && error.phase);
    expect(events.some((e) => e.event === "result")).toBe(false);
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^mdevkit: ECANCELED: .*interrupted \(SIGINT\); the VM was rolled back and ran on here/,
    );
  });

  it("FAILED then silence: the source resumes the VM at once with the target's failure", async () => {
    const target = await stallingTarget(["--fail-first"]);
    const source = spawnEvents([
      "migrate",
      "--to",
      target.url,
      "--config",
      busyVm(),
      "--warmup",
      "100",
      "--downtime-limit",
      "5000",
      "--switchover-timeout",
      "1800000",
      "--peer-timeout",
      "1800000",
    ]);
    const exit = await exitOf(source, 60_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expectRolledBack(source, "EIO");
    expect(eventOf(source, "error").message).toMatch(/the target failed: injected/);
  });

  it("a SIGSTOPped listen: the source resumes the VM at --switchover-timeout (ETIMEDOUT)", async () => {
    const target = await startTarget();
    // A 20 MB/s link makes the final pass of the rewritten RAM take seconds, so the stop
    // lands while the source is still sending it.
    const source = spawnEvents([
      "migrate",
      "--to",
      target.url,
      "--config",
      busyVm(32),
      "--warmup",
      "100",
      "--max-bandwidth",
      "160Mbps",
      "--downtime-limit",
      "5000",
      "--switchover-timeout",
      "8000",
      "--peer-timeout",
      "1800000",
    ]);
    await onPhase(source, "switchover");
    target.child.process.kill("SIGSTOP");
    stopped.add(target.child.process);
    const exit = await exitOf(source, 60_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expectRolledBack(source, "ETIMEDOUT");
    expect(eventOf(source, "error").message).toMatch(/longer than its 8000 ms limit/);
  });
});
