// The summary's iteration table shows how long the source waited for the target to apply
// the last pass before switching over (ITERATION_ACK), so a user reading a total time sees
// where it went, and how many of the dirty pages the devices reported.
import type { IterationStats, MigrationResult } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { iterationTable } from "../src/summary.js";

const pass = (iteration: number, extra: Partial<IterationStats> = {}): IterationStats => ({
  iteration,
  dirtyPagesFound: 100,
  dirtyPagesByDevices: 0,
  dataPages: 90,
  zeroPages: 10,
  unchangedPages: 0,
  deviceBytes: 0,
  wireBytes: 400_000,
  durationMs: 4,
  bandwidth: 1e8,
  expectedDowntimeMs: 2,
  throttle: 0,
  ...extra,
});

describe("the iteration table", () => {
  it("has a catch-up column: the wait for the target after the last pass, – elsewhere", () => {
    const result = {
      iterations: [pass(1), pass(2, { catchUpMs: 12.34 })],
    } as unknown as MigrationResult;
    const lines = iterationTable(result).split("\n");
    const head = (lines[0] as string).trim().split(/\s{2,}/);
    const cell = (line: number): string =>
      ((lines[line] as string).trim().split(/\s{2,}/)[head.indexOf("catch-up")] as string) ?? "";
    expect(head).toContain("catch-up");
    expect(cell(1)).toBe("–");
    expect(cell(2)).toBe("12.3 ms");
  });

  it("has a by-devices column: the dirty pages found that the devices reported", () => {
    const result = {
      iterations: [pass(1, { dirtyPagesFound: 524288, dirtyPagesByDevices: 10782 })],
    } as unknown as MigrationResult;
    const [head, row] = iterationTable(result)
      .split("\n")
      .map((l) => l.trim().split(/\s{2,}/));
    expect(row?.[head?.indexOf("by devices") ?? -1]).toBe("10782");
    expect(row?.[head?.indexOf("dirty found") ?? -1]).toBe("524288");
  });
});
