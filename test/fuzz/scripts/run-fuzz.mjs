#!/usr/bin/env node
// `npm run fuzz`: the fuzzing properties run long. FUZZ_RUNS (or --runs N) sets the inputs
// per property (each target scales it by its cost; default 800, about ten minutes on two
// cores); fresh seeds are drawn and printed, and FUZZ_SEED=<seed> replays one. Runs the
// mutation fuzzers of test/fuzz, then core's generated-stream decoder properties
// (packages/core/test/stream/fuzz.test.ts, MDEVKIT_FUZZ_RUNS), and prints one table.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../../..", import.meta.url).pathname;
const argRuns = process.argv.indexOf("--runs");
const runs = Number(argRuns > 0 ? process.argv[argRuns + 1] : (process.env.FUZZ_RUNS ?? 800));
if (!Number.isSafeInteger(runs) || runs <= 0) {
  console.error(`fuzz: --runs/FUZZ_RUNS must be a positive whole number, not ${runs}`);
  process.exit(2);
}
const statsDir = mkdtempSync(join(tmpdir(), "mdevkit-fuzz-stats-"));
const env = {
  ...process.env,
  FUZZ_RUNS: String(runs),
  FUZZ_STATS_DIR: statsDir,
  MDEVKIT_FUZZ_RUNS: String(runs),
};
const t0 = Date.now();
const vitest = (cwd, args) =>
  spawnSync("npx", ["vitest", "run", ...args], { cwd, env, stdio: "inherit" }).status ?? 1;

console.log(
  `fuzz: FUZZ_RUNS=${runs}${process.env.FUZZ_SEED ? `, FUZZ_SEED=${process.env.FUZZ_SEED}` : ", fresh seeds"}`,
);
const fuzzStatus = vitest(join(root, "test/fuzz"), []);
const coreStatus = vitest(join(root, "packages/core"), ["test/stream/fuzz.test.ts"]);

const rows = existsSync(join(statsDir, "stats.jsonl"))
  ? readFileSync(join(statsDir, "stats.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l))
  : [];
rmSync(statsDir, { recursive: true, force: true });

const pad = (s, n) => String(s).padEnd(n);
const num = (s, n) => String(s).padStart(n);
console.log(
  `\n${"=".repeat(120)}\nmdevkit fuzz summary (${((Date.now() - t0) / 60000).toFixed(1)} min)\n`,
);
console.log(
  `${pad("target", 28)}${num("inputs", 8)}${num("refused", 9)}${num("accepted", 9)}${num("result", 8)}${num("slowest", 10)}${num("max alloc", 11)}${num("max RSS+", 10)}${num("retained", 10)}  seed`,
);
let total = 0;
for (const r of rows) {
  total += r.inputs;
  console.log(
    `${pad(r.target, 28)}${num(r.inputs, 8)}${num(r.refused, 9)}${num(r.accepted, 9)}${num(r.failure ? "FAILED" : "ok", 8)}${num(`${r.maxInputMs} ms`, 10)}${num(`${r.maxAllocationMiB.toFixed(1)} MiB`, 11)}${num(`${(r.maxRssGrowthMiB ?? 0).toFixed(0)} MiB`, 10)}${num(`${r.retainedGrowthMiB.toFixed(1)} MiB`, 10)}  ${r.seed}`,
  );
}
console.log(
  `${pad("core decoder properties", 28)}${num(`${runs}+`, 8)} inputs per property on generated streams (packages/core/test/stream/fuzz.test.ts): ${coreStatus === 0 ? "passed" : "FAILED"}`,
);
const samples = rows.filter((r) => r.acceptedSamples?.length > 0);
if (samples.length > 0) console.log("\nAccepted inputs (a sample: edits that left a valid input):");
for (const r of samples) console.log(`  ${r.target}: ${r.acceptedSamples.slice(0, 3).join(" | ")}`);
console.log(
  `\n${total} mutated inputs through test/fuzz; ${fuzzStatus === 0 ? "no failure" : "FAILURES above (each names its seed and path)"}.`,
);
console.log(
  "Replay a failure: FUZZ_SEED=<seed> FUZZ_RUNS=<runs> npx vitest run -t '<test name>' in test/fuzz.",
);
process.exit(fuzzStatus === 0 && coreStatus === 0 ? 0 : 1);
