// Issue #14, "Fault harness": for each (fault × phase × plugin) cell, a real migrate and a
// real listen process, a fault injected at the phase, and afterwards exactly one VM runs,
// it is the VM that left, and a new migration succeeds. `npm test` runs the reduced matrix
// (every phase, one plugin each); `npm run faults` at the root runs the full one.
import { appendFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { type CellResult, runCell } from "../src/cell.js";
import { matrixTable, outcomeCounts, selectCells } from "../src/matrix.js";

const size = process.env["FAULTS_CELLS"]
  ? "cells"
  : process.env["FAULTS_MATRIX"] === "full"
    ? "full"
    : "reduced";
const repeat = Number(process.env["FAULTS_REPEAT"] ?? "1");
const cells = selectCells(size).flatMap((c) => Array.from({ length: repeat }, () => c));
const results: CellResult[] = [];
// Each result is appended as it comes, so an interrupted full run still leaves its data.
const log = new URL(`../.faults-${size}.jsonl`, import.meta.url);
writeFileSync(log, "");

afterAll(() => {
  const table = matrixTable(results);
  const report = `fault matrix (${size}, ${results.length} runs)\n\n${table}\n\n${outcomeCounts(results)}\n`;
  process.stdout.write(`\n${report}`);
  const file = new URL(`../.faults-${size}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify({ size, results }, null, 2)}\n`);
});

// Cells spend most of their time waiting (timeouts, stops, stalls): a few run side by side
// (vitest's maxConcurrency, FAULTS_CONCURRENCY in vitest.config.ts); each owns its processes.
describe.concurrent(`fault matrix (${size})`, () => {
  it.each(cells.map((c) => ({ ...c, label: `${c.fault.name} at ${c.phase.name} (${c.plugin})` })))(
    "$label",
    async (cell) => {
      let result = await runCell(cell);
      // A source that never started migrating (a vCPU worker not acknowledging its start
      // on a saturated machine) did not run the cell: it gets one more try. Any failure
      // after the first migration event counts.
      if (result.outcome === "source failed to start") {
        appendFileSync(log, `${JSON.stringify(result)}\n`);
        result = await runCell(cell);
      }
      results.push(result);
      appendFileSync(log, `${JSON.stringify(result)}\n`);
      expect(result.problems, `outcome: ${result.outcome}`).toEqual([]);
    },
  );
});
