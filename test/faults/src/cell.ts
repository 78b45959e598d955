import { rmSync } from "node:fs";
import type { MdevkitChild } from "@mdevkit/cli";
// The e2e suite's helpers, shared rather than copied: how a child's exit is awaited and
// shown, how a plain CLI run is captured, and what "the same VM" means.
import { exitOf, runCli, type Target, transcript } from "../../e2e/helpers/processes.js";
import { expectSameVm, sourceResult, targetResult } from "../../e2e/helpers/results.js";
import { CellProcesses } from "./cell-processes.js";
import { FaultProxy, type Fired } from "./fault-proxy.js";
import type { Fault } from "./faults.js";
import type { Phase } from "./phases.js";
import { type PluginName, vmConfig } from "./vm-configs.js";

/**
 * The source's wait for any one answer (ACCEPT, switchover-ack, LOADED, RESUMED), ms: long
 * enough that a target building a VM on a loaded 2-core machine is not taken for dead.
 */
export const PEER_TIMEOUT_MS = 10_000;
/** The target's wait for GO after LOADED, ms. */
export const GO_TIMEOUT_MS = 3000;
/**
 * The downtime limit, ms. The source predicts a pause from pending bytes plus the fixed
 * switchover costs it measured; on a 2-core machine at a load average near 30 those
 * reached 0.5–8.5 s for a vGPU, so with QEMU's 300 ms (and even 2.5 s) a gvt-g VM never
 * converged and retries failed with EAGAIN. Faults, not convergence, are under test here.
 * The source's switchover deadline is then twice this (16 s), within DECIDE_CAP_MS.
 */
export const DOWNTIME_LIMIT_MS = 8000;
/** A SIGSTOPped source stays stopped this long: past the target's GO timeout. */
export const STOP_SOURCE_MS = 6000;
/**
 * A stalled link or stopped target is released once the source decided (error or result),
 * or after this long. A source that kept its guest paused that long failed the cell.
 */
export const DECIDE_CAP_MS = 30_000;

/** One cell of the matrix. */
export interface Cell {
  readonly fault: Fault;
  readonly phase: Phase;
  readonly plugin: PluginName;
}

/** How a cell ended. */
export interface CellResult {
  readonly fault: string;
  readonly phase: string;
  readonly plugin: PluginName;
  /** What the migration did: completed, rolled-back, unresolved, source-killed, … */
  readonly outcome: string;
  /** Broken promises; empty when the cell passed. */
  readonly problems: readonly string[];
  readonly fired?: Fired;
  readonly ms: number;
}

/** The target ran the migrated VM: it printed its result, which it does after running it. */
function ran(child: MdevkitChild): boolean {
  return child.events.some((e) => e.event === "result" && e.role === "target");
}

function has(child: MdevkitChild, event: string): boolean {
  return child.events.some((e) => e.event === event);
}

/** Runs `check` (vitest expectations) and turns a failure into a problem line. */
function checked(problems: string[], what: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message.split("\n")[0]}`);
  }
}

function signal(child: MdevkitChild, sig: NodeJS.Signals): void {
  const pid = child.process.pid;
  if (pid !== undefined && child.process.exitCode === null && child.process.signalCode === null)
    process.kill(pid, sig);
}

/** Resolves when the source printed its verdict (an `error` or a `result`) or exited. */
function decided(source: MdevkitChild): Promise<void> {
  if (has(source, "error") || has(source, "result")) return Promise.resolve();
  return new Promise((resolve) => {
    source.on((e) => {
      if (e.event === "error" || e.event === "result") resolve();
    });
    void source.exited.then(() => resolve());
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one cell: a `listen` target behind a fault proxy, a fresh `listen` for the retry,
 * and a `migrate` source; injects the fault when the phase's record goes by; waits for
 * everything to settle; then checks that exactly one VM runs, that it is the VM that left
 * (RAM SHA-256 and every device's state), and that a new migration succeeds.
 */
export async function runCell(cell: Cell): Promise<CellResult> {
  const started = performance.now();
  const problems: string[] = [];
  let outcome = "unknown";
  let fired: Fired | undefined;
  const { fault, phase, plugin } = cell;
  const procs = new CellProcesses();
  const config = procs.writeJson(`faults-${plugin}.json`, vmConfig(plugin));
  let proxy: FaultProxy | undefined;
  let saved: string | undefined;
  try {
    const [first, fresh] = await Promise.all([
      procs.target(["--run-for", "300", "--go-timeout", String(GO_TIMEOUT_MS)]),
      procs.target(["--run-for", "300"]),
    ]);
    const spec = fault.spec;
    proxy = await FaultProxy.start(first.url, {
      kind: spec.kind === "wire" ? spec.wire : "observe",
      trigger: phase.trigger,
    });
    const source = procs.spawn([
      "migrate",
      "--to",
      proxy.url,
      "--retry-to",
      fresh.url,
      "--then-run",
      "200",
      "--warmup",
      "100",
      "--verify-ram",
      "--auto-converge",
      "--peer-timeout",
      String(PEER_TIMEOUT_MS),
      "--downtime-limit",
      String(DOWNTIME_LIMIT_MS),
      "--config",
      config,
    ]);
    const injected = inject(cell, proxy, source, first, problems);
    await exitOf(source, 120_000);
    fired = await Promise.race([proxy.fired, sleep(0).then(() => undefined)]);
    await injected.catch((err: unknown) => {
      problems.push(`injecting the fault: ${(err as Error).message}`);
    });
    if (fired === undefined) problems.push(`the fault never fired: ${phase.when} never happened`);
    // The faulted target: it ends by itself once its migration ended; a listener that only
    // saw a stray connection may keep listening (that is not a VM), so it is stopped here.
    signal(first.child, "SIGCONT");
    await exitOf(first.child, 6000).catch(() => signal(first.child, "SIGKILL"));
    await exitOf(first.child, 10_000).catch(() => undefined);
    // A rolled-back source retried to the fresh target, which reports after it ran the VM.
    if (source.events.some((e) => e.event === "error" && e.rolledBack === true))
      await exitOf(fresh.child, 30_000).catch(() => undefined);

    // GO crossed the proxy at any time (the source may answer LOADED before a signal lands).
    const goSeen = proxy.units.forward.includes("GO");
    const verdict = judge(cell, source, first, fresh, goSeen, problems);
    outcome = verdict.outcome;
    saved = verdict.saved;
    if (saved !== undefined && !ran(first.child)) {
      // The one copy of the VM is the source's save: it must restore whole.
      const restored = await runCli(["restore", saved, "--verify-ram", "--json"]);
      if (restored.code !== 0) problems.push(`the saved VM does not restore: ${restored.stderr}`);
    }
    if (!verdict.retried) await secondMigration(procs, config, fresh, problems);
  } catch (err) {
    problems.push(`harness: ${(err as Error).message.split("\n")[0]}`);
  } finally {
    await proxy?.close();
    await procs.dispose();
    if (saved !== undefined) rmSync(saved, { force: true });
  }
  return {
    fault: fault.name,
    phase: phase.name,
    plugin,
    outcome,
    problems,
    ...(fired ? { fired } : {}),
    ms: Math.round(performance.now() - started),
  };
}

/** Applies the cell's fault when the proxy reports its trigger, and undoes SIGSTOPs/stalls. */
async function inject(
  cell: Cell,
  proxy: FaultProxy,
  source: MdevkitChild,
  first: Target,
  problems: string[],
): Promise<void> {
  const spec = cell.fault.spec;
  const fired = await Promise.race([proxy.fired, source.exited.then(() => undefined)]);
  if (fired === undefined) return;
  const capped = async (what: string): Promise<void> => {
    const outcome = await Promise.race([
      decided(source).then(() => "decided" as const),
      sleep(DECIDE_CAP_MS).then(() => "cap" as const),
    ]);
    const paused = source.events.some((e) => e.event === "phase" && e.phase === "switchover");
    if (outcome === "cap" && paused)
      problems.push(
        `the guest stayed paused: no decision ${DECIDE_CAP_MS} ms after ${what} (issue #14 item 2)`,
      );
  };
  if (spec.kind === "wire") {
    if (spec.wire !== "stall") return;
    await capped("the link stalled");
    proxy.release();
    return;
  }
  const child = spec.who === "source" ? source : first.child;
  signal(child, spec.signal);
  if (spec.signal === "SIGKILL") return;
  if (spec.who === "source") await sleep(STOP_SOURCE_MS);
  else await capped("the target stopped");
  signal(child, "SIGCONT");
}

/** What the three processes' events say happened, and the checks that must hold for it. */
function judge(
  cell: Cell,
  source: MdevkitChild,
  first: Target,
  fresh: Target,
  goSeen: boolean,
  problems: string[],
): { outcome: string; retried: boolean; saved?: string } {
  const spec = cell.fault.spec;
  const sourceKilled =
    spec.kind === "process" && spec.who === "source" && spec.signal === "SIGKILL";
  const targetKilled =
    spec.kind === "process" && spec.who === "target" && spec.signal === "SIGKILL";
  const firstRan = ran(first.child);
  const freshRan = ran(fresh.child);
  const error = source.events.find((e) => e.event === "error");
  const exit = { code: source.process.exitCode, signal: source.process.signalCode };
  const where = (): string => {
    const t = first.child.process;
    const f = fresh.child.process;
    return `\nsource:\n${transcript(source)}\ntarget (exit ${t.exitCode ?? t.signalCode}):\n${transcript(first.child)}\nfresh target (exit ${f.exitCode ?? f.signalCode}):\n${transcript(fresh.child)}`;
  };
  for (const [name, t] of [
    ["faulted", first],
    ["fresh", fresh],
  ] as const) {
    if (ran(t.child) && !(targetResult(t.child).vcpuWritesAfterRun > 0))
      problems.push(`the ${name} target printed its result but its vCPUs never ran`);
  }

  if (firstRan && freshRan) problems.push("two VMs run: the faulted target and the retry target");

  if (sourceKilled && exit.signal === "SIGKILL") {
    // The source is gone: no VM is fine, but the target may run one only after GO.
    if (firstRan && !goSeen) problems.push(`the target ran the VM without GO${where()}`);
    if (firstRan) checked(problems, "the VM the target runs", () => expectRanWhole(first));
    return {
      outcome: firstRan ? "source killed after GO; target runs" : "source killed",
      retried: false,
    };
  }
  if (exit.code === 0 && error === undefined) {
    // The fault did not stop the migration (a delay, a stop shorter than it mattered).
    if (!firstRan && !(targetKilled && goSeen))
      problems.push(`the source completed but the target does not run the VM (VM lost)${where()}`);
    if (firstRan)
      checked(problems, "the migrated VM", () =>
        expectSameVm(sourceResult(source), targetResult(first.child)),
      );
    const outcome = firstRan
      ? "completed"
      : targetKilled
        ? "completed; target killed after GO"
        : "completed; target died";
    return { outcome, retried: false };
  }
  if (error?.rolledBack === true) {
    if (firstRan) problems.push(`rolled back although the target runs the VM${where()}`);
    const alive = source.events.find((e) => e.event === "still-running");
    if (alive?.event !== "still-running" || !(alive.vcpuWritesAfter > alive.vcpuWritesBefore))
      problems.push(`the rolled-back VM did not prove it runs${where()}`);
    else if (!alive.ramChanged) problems.push("the rolled-back VM's RAM did not change");
    if (exit.code !== 0 || !freshRan) {
      problems.push(`the retry to a fresh target failed (exit ${exit.code})${where()}`);
    } else {
      checked(problems, "the retried VM", () =>
        expectSameVm(sourceResult(source), targetResult(fresh.child)),
      );
    }
    return { outcome: `rolled back (${error.phase}, ${error.code})`, retried: true };
  }
  if (error?.rolledBack === false && error.phase === "handover") {
    // GO went out and RESUMED did not come back: the source must neither run nor drop it.
    const saved = /saved to (\S+) \(restore it only/.exec(error.message)?.[1];
    if (saved === undefined) problems.push(`unresolved handover without a saved VM${where()}`);
    if (has(source, "still-running") || has(source, "result"))
      problems.push("the source ran the VM after GO");
    return {
      outcome: firstRan ? "unresolved; target runs" : "unresolved; VM saved",
      retried: false,
      ...(saved ? { saved } : {}),
    };
  }
  if (!has(source, "phase")) {
    // It failed before migrating (its stderr says why): a broken run, not a lost VM.
    problems.push(`the source failed to start its VM (exit ${exit.code}); see its stderr`);
    return { outcome: "source failed to start", retried: false };
  }
  problems.push(
    `the source ended ${exit.signal ?? `with exit ${exit.code}`} without a verdict the rules allow (VM lost)${where()}`,
  );
  return { outcome: `source ${exit.signal ?? `exit ${exit.code}`}`, retried: false };
}

/** A target that runs a VM whose source is gone: its RAM hash and devices were reported. */
function expectRanWhole(target: Target): void {
  const dst = targetResult(target.child);
  if (!/^[0-9a-f]{64}$/.test(dst.ramSha256 ?? "")) throw new Error("no RAM hash from the target");
  for (const state of Object.values(dst.devices))
    if (state === null) throw new Error("a device has no state");
}

/** After a cell that did not retry: a new migration to the fresh target succeeds. */
async function secondMigration(
  procs: CellProcesses,
  config: string,
  fresh: Target,
  problems: string[],
): Promise<void> {
  const source = procs.spawn([
    "migrate",
    "--to",
    fresh.url,
    "--config",
    config,
    "--warmup",
    "100",
    "--verify-ram",
    "--auto-converge",
    "--downtime-limit",
    String(DOWNTIME_LIMIT_MS),
  ]);
  const [src, dst] = [await exitOf(source, 120_000), await exitOf(fresh.child, 30_000)];
  if (src.code !== 0 || dst.code !== 0) {
    problems.push(
      `a new migration afterwards failed (source ${src.code}, target ${dst.code}):\n${transcript(source)}`,
    );
    return;
  }
  checked(problems, "a new migration afterwards", () =>
    expectSameVm(sourceResult(source), targetResult(fresh.child)),
  );
}
