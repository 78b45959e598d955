// How long each property runs, with which seed, and what it reports. The normal suite runs
// a few inputs per property with fixed seeds (deterministic CI); `npm run fuzz` sets
// FUZZ_RUNS (inputs per property) and draws fresh seeds, printed so a failure replays with
// FUZZ_SEED=<seed> (and the path fast-check prints).
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

/** Inputs per property: `FUZZ_RUNS` scaled by `weight` (cheaper targets run more), or `ci`. */
export function fuzzRuns(ci: number, weight = 1): number {
  const env = Number(process.env["FUZZ_RUNS"]);
  return Number.isSafeInteger(env) && env > 0 ? Math.max(ci, Math.round(env * weight)) : ci;
}

/** True in a long `npm run fuzz` session. */
export function longFuzzing(): boolean {
  return Number(process.env["FUZZ_RUNS"] ?? 0) > 0;
}

/**
 * The seed of one property: `FUZZ_SEED` when replaying, a fresh one in long sessions, a
 * fixed one (derived from the name) in the normal suite.
 */
export function fuzzSeed(name: string): number {
  const env = Number(process.env["FUZZ_SEED"]);
  if (Number.isSafeInteger(env)) return env | 0;
  if (longFuzzing()) return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  let h = 0x811c9dc5;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h | 0;
}

/**
 * Longest time one input may take, ms. Generous on purpose: the machine is shared and
 * loaded; a hang (an unbounded loop, a wait that never ends) blows through any bound.
 */
export const INPUT_TIME_BOUND_MS = 20_000;

/**
 * Largest growth of the resident set one input may cause, MiB: a VM within the restore
 * budget and its vCPU thread fit; a target that sized (and touched) guest RAM from a hostile
 * claim does not.
 */
export const RSS_GROWTH_BOUND_MIB = 256;

/**
 * The bounds every input of every target must hold: its time, its largest single
 * allocation (at most `allocationBound` bytes) and the growth of the resident set.
 */
export function expectWithinBudget(
  label: string,
  input: { readonly ms: number; readonly largest: number; readonly rssGrowth: number },
  allocationBound: number,
): void {
  const { ms, largest, rssGrowth } = input;
  expect(ms, `${label}: took ${ms.toFixed(0)} ms`).toBeLessThan(INPUT_TIME_BOUND_MS);
  expect(largest, `${label}: allocated ${largest} bytes at once`).toBeLessThanOrEqual(
    allocationBound,
  );
  expect(rssGrowth, `${label}: RSS grew ${rssGrowth} bytes`).toBeLessThanOrEqual(
    RSS_GROWTH_BOUND_MIB * 2 ** 20,
  );
}

/** The memory budget (`--max-memory`) restore runs with under fuzzing, MiB; base VMs have 4–8. */
export const RESTORE_BUDGET_MIB = 64;

/** What one property saw, printed at its end and collected by `npm run fuzz`. */
export class FuzzStats {
  readonly target: string;
  readonly seed: number;
  inputs = 0;
  accepted = 0;
  /** Refusals by `CODE rule` (rule when the error has one). */
  readonly refusals = new Map<string, number>();
  maxInputMs = 0;
  maxAllocationBytes = 0;
  maxRssGrowthBytes = 0;
  /** Growth of retained heap + array buffers over the run, after GC, MiB. */
  retainedGrowthMiB = 0;
  /** A few accepted inputs' labels: what a reader let through, for the report. */
  readonly acceptedSamples: string[] = [];
  /** Why the property failed (a crash, a hang, an over-allocation...), if it did. */
  failure: string | undefined;

  constructor(target: string, seed: number) {
    this.target = target;
    this.seed = seed;
  }

  /** Counts one input's outcome. */
  record(outcome: {
    refusal?: string;
    ms: number;
    allocation?: number;
    rssGrowth?: number;
    label?: string;
  }): void {
    this.inputs++;
    if (outcome.refusal === undefined && outcome.label && this.acceptedSamples.length < 8)
      this.acceptedSamples.push(outcome.label);
    if (outcome.refusal === undefined) this.accepted++;
    else this.refusals.set(outcome.refusal, (this.refusals.get(outcome.refusal) ?? 0) + 1);
    this.maxInputMs = Math.max(this.maxInputMs, outcome.ms);
    this.maxAllocationBytes = Math.max(this.maxAllocationBytes, outcome.allocation ?? 0);
    this.maxRssGrowthBytes = Math.max(this.maxRssGrowthBytes, outcome.rssGrowth ?? 0);
  }

  /** Notes the retained growth measured now (MiB since the run began); fails past `boundMiB`. */
  checkRetained(growthMiB: number, boundMiB: number): void {
    this.retainedGrowthMiB = Math.max(this.retainedGrowthMiB, growthMiB);
    expect(this.retainedGrowthMiB).toBeLessThan(boundMiB);
  }

  /** Runs the property `fn`, keeping its failure for the report (and rethrowing it). */
  async run(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.failure = (err as Error).message.split("\n")[0] ?? String(err);
      throw err;
    }
  }

  /** One line for the log, and a JSON line for `npm run fuzz` when FUZZ_STATS_DIR is set. */
  report(): string {
    const refused = this.inputs - this.accepted;
    const top = [...this.refusals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, n]) => `${k} ×${n}`)
      .join(", ");
    const line = `fuzz ${this.target}: ${this.inputs} inputs, ${refused} refused (typed), ${this.accepted} accepted, ${this.failure === undefined ? "0 failures" : `FAILED (${this.failure})`}; slowest ${this.maxInputMs.toFixed(0)} ms, largest allocation ${(this.maxAllocationBytes / 2 ** 20).toFixed(2)} MiB, largest RSS growth ${(this.maxRssGrowthBytes / 2 ** 20).toFixed(1)} MiB, retained growth ${this.retainedGrowthMiB.toFixed(1)} MiB; seed ${this.seed}${top ? `; refusals: ${top}` : ""}`;
    const dir = process.env["FUZZ_STATS_DIR"];
    if (dir) {
      appendFileSync(
        join(dir, "stats.jsonl"),
        `${JSON.stringify({
          target: this.target,
          seed: this.seed,
          inputs: this.inputs,
          accepted: this.accepted,
          refused,
          failure: this.failure ?? null,
          maxInputMs: Math.round(this.maxInputMs),
          maxAllocationMiB: this.maxAllocationBytes / 2 ** 20,
          maxRssGrowthMiB: this.maxRssGrowthBytes / 2 ** 20,
          retainedGrowthMiB: this.retainedGrowthMiB,
          refusals: Object.fromEntries(this.refusals),
          acceptedSamples: this.acceptedSamples,
        })}\n`,
      );
    }
    console.log(line);
    return line;
  }
}
