#!/usr/bin/env node
// Runs every `*.bench.mjs` beside this file in its own process (see packages/core/bench/run.mjs).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
let failed = 0;
for (const file of readdirSync(here)
  .filter(
    (f) => f.endsWith(".bench.mjs") && (filters.length === 0 || filters.some((x) => f.includes(x))),
  )
  .sort()) {
  console.log(`\n=== ${file}`);
  if (spawnSync(process.execPath, [join(here, file)], { stdio: "inherit" }).status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
