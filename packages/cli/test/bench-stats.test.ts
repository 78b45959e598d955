// The benchmark's median-run selection (packages/cli/bench/stats.mjs): each table row is one
// real run, chosen by its median key.
import { describe, expect, it } from "vitest";
// @ts-expect-error: the benchmark is plain JavaScript (bench/ is not compiled).
import { medianBy } from "../bench/stats.mjs";

interface Run {
  readonly ok: boolean;
  readonly ms: number;
  readonly id: string;
}

const run = (id: string, ms: number, ok = true): Run => ({ id, ms, ok });
const pick = (runs: Run[]): string => (medianBy(runs, (r: Run) => r.ms) as Run).id;

describe("medianBy", () => {
  it("picks the middle run of an odd count, whatever the run order", () => {
    expect(pick([run("a", 9.5), run("b", 7.8), run("c", 8.8)])).toBe("c");
    expect(pick([run("a", 1), run("b", 100), run("c", 3), run("d", 2), run("e", 50)])).toBe("c");
  });

  it("picks the lower middle run of an even count: a run that happened, not an average", () => {
    expect(pick([run("a", 4), run("b", 1), run("c", 3), run("d", 2)])).toBe("d");
  });

  it("returns the one run of a single-run series", () => {
    expect(pick([run("only", 5)])).toBe("only");
  });

  it("returns the first failed run, however fast, so a failure is never hidden", () => {
    expect(pick([run("a", 3), run("b", 1, false), run("c", 2), run("d", 0, false)])).toBe("b");
  });

  it("leaves out a skipped run (no RAM for it): neither a failure nor a figure", () => {
    const skipped = { id: "s", ms: Number.NaN, ok: false, skipped: true };
    expect(pick([run("a", 3), skipped, run("c", 2)])).toBe("c");
    expect(pick([skipped, run("b", 1, false)])).toBe("b");
    expect(pick([skipped])).toBe("s");
  });

  it("leaves the caller's array in its order", () => {
    const runs = [run("a", 3), run("b", 1), run("c", 2)];
    pick(runs);
    expect(runs.map((r) => r.id)).toEqual(["a", "b", "c"]);
  });
});
