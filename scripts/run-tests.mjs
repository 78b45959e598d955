#!/usr/bin/env node
// Runs every workspace's tests through turbo, then prints one plain summary line
// ("N passed, N failed") summed from each package's vitest JSON report, because
// CI reads that line and turbo's own output interleaves many vitest summaries.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { failureText } from "./test-summary.mjs";

const root = new URL("..", import.meta.url).pathname;
const workspaceDirs = ["packages", "plugins", "test"].flatMap((group) => {
  const dir = join(root, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(dir, entry.name));
});

// A stale report from an earlier run must not be counted as this run's result.
for (const dir of workspaceDirs) rmSync(join(dir, ".vitest-report.json"), { force: true });

const extra = process.argv.slice(2);
// With turbo options (`npm test -- --filter=…`) only the packages turbo runs owe a report.
const ran = extra.length === 0 ? undefined : packagesTurboRuns(extra);
const turbo = spawnSync("npx", ["turbo", "run", "test", "--continue", ...extra], {
  cwd: root,
  stdio: "inherit",
});

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
/** A line per failed test or suite: CI shows the end of the output, where turbo's is long gone. */
const failures = [];
for (const dir of workspaceDirs) {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (!pkg.scripts?.test) continue;
  const reportPath = join(dir, ".vitest-report.json");
  if (!existsSync(reportPath)) {
    if (ran === undefined || ran.has(pkg.name)) missing.push(pkg.name);
    continue;
  }
  const report = JSON.parse(readFileSync(reportPath, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  for (const file of report.testResults) {
    const where = `${pkg.name} ${file.name.slice(dir.length + 1)}`;
    // A suite that failed to load counts no tests; count it as a failure so it is not lost.
    if (file.status === "failed" && file.assertionResults.length === 0) {
      failed++;
      failures.push(`FAILED ${where}: ${failureText([file.message])}`);
    }
    for (const t of file.assertionResults) {
      if (t.status === "failed")
        failures.push(`FAILED ${where} › ${t.fullName}: ${failureText(t.failureMessages)}`);
    }
  }
}
for (const line of failures) console.log(line);
if (missing.length > 0) {
  console.error(`no test report from: ${missing.join(", ")} (counted as failed)`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(turbo.status === 0 && failed === 0 && passed > 0 ? 0 : 1);

/** The packages whose `test` task turbo would run with `args`. */
function packagesTurboRuns(args) {
  const dry = spawnSync("npx", ["turbo", "run", "test", "--dry=json", ...args], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
  });
  if (dry.status !== 0) return undefined;
  try {
    const plan = JSON.parse(dry.stdout);
    return new Set(plan.tasks.filter((t) => t.task === "test").map((t) => t.package));
  } catch {
    return undefined; // every package then owes a report, as without options
  }
}
