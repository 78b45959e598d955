#!/usr/bin/env node
// Runs every workspace's tests through turbo, then prints one plain summary line
// ("N passed, N failed") summed from each package's vitest JSON report, because
// CI reads that line and turbo's own output interleaves many vitest summaries.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

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
const turbo = spawnSync("npx", ["turbo", "run", "test", "--continue", ...extra], {
  cwd: root,
  stdio: "inherit",
});

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of workspaceDirs) {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  if (!pkg.scripts?.test) continue;
  const reportPath = join(dir, ".vitest-report.json");
  if (!existsSync(reportPath)) {
    missing.push(pkg.name);
    continue;
  }
  const report = JSON.parse(readFileSync(reportPath, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  // A suite that failed to load counts no tests; count it as a failure so it is not lost.
  failed += report.testResults.filter(
    (r) => r.status === "failed" && r.assertionResults.length === 0,
  ).length;
}
if (missing.length > 0) {
  console.error(`no test report from: ${missing.join(", ")} (counted as failed)`);
  failed += missing.length;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(turbo.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
