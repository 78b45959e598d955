// `mdevkit inspect` and `mdevkit restore` on mutated save files, in-process through the
// command line's parser and command functions: each input is refused with a typed
// one-line error or accepted; restore never accepts what inspect refuses; no input makes
// either allocate beyond its bound, leak, or hang.
import { DEFAULT_STREAM_LIMITS } from "@mdevkit/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureAllocations, retainedMiB } from "../helpers/allocation-probe.js";
import {
  expectWithinBudget,
  FuzzStats,
  fuzzRuns,
  fuzzSeed,
  INPUT_TIME_BOUND_MS,
  RESTORE_BUDGET_MIB,
} from "../helpers/budget.js";
import { runInProcess } from "../helpers/cli-run.js";
import { baseSaveFiles, scratch } from "../helpers/save-files.js";
import { mutatedStream } from "../helpers/stream-mutations.js";
import { typedRefusal } from "../helpers/typed-rejection.js";

/**
 * Inspect holds one record and the RAM digest table (4 bytes per page of the largest VM a
 * config may declare, 16 GiB: 16 MiB); restore also the guest RAM the budget allows.
 */
const INSPECT_ALLOCATION_BOUND = DEFAULT_STREAM_LIMITS.maxRecordLength + 16 * 2 ** 20 + 65536;
const RESTORE_ALLOCATION_BOUND = INSPECT_ALLOCATION_BOUND + RESTORE_BUDGET_MIB * 2 ** 20;
const RETAINED_BOUND_MIB = 96;

/** Runs one command on `file`; returns the refusal key, or undefined if it succeeded. */
async function outcome(
  args: string[],
  label: string,
  bound: number,
): Promise<{ refusal: string | undefined; ms: number; largest: number; rssGrowth: number }> {
  const t0 = performance.now();
  let refusal: string | undefined;
  const { largest, rssGrowth } = await measureAllocations(async () => {
    try {
      await runInProcess(args);
    } catch (err) {
      refusal = typedRefusal(err, `${args[0]} ${label}`);
    }
  });
  const ms = performance.now() - t0;
  expectWithinBudget(`${args[0]} ${label}`, { ms, largest, rssGrowth }, bound);
  return { refusal, ms, largest, rssGrowth };
}

describe("mdevkit inspect and restore on mutated save files", () => {
  let bases: Uint8Array[] = [];
  const files = scratch();
  const inspectStats = new FuzzStats("inspect (in-process)", fuzzSeed("inspect-restore"));
  const restoreStats = new FuzzStats("restore (in-process)", inspectStats.seed);
  beforeAll(async () => {
    bases = await baseSaveFiles();
  });
  afterAll(() => {
    inspectStats.report();
    restoreStats.report();
    files.dispose();
  });

  it("the unmutated files inspect and restore", async () => {
    for (const [i, b] of bases.entries()) {
      const file = files.write(`base-${i}.save`, b);
      await runInProcess(["inspect", file, "--json"]);
      await runInProcess([
        "restore",
        file,
        "--run-for",
        "0",
        "--max-memory",
        String(RESTORE_BUDGET_MIB),
      ]);
    }
  });

  it("each mutated file is refused typed by both, or accepted; restore accepts nothing inspect refuses", async () => {
    const start = retainedMiB();
    const handles = process.getActiveResourcesInfo().length;
    await restoreStats.run(() =>
      fc.assert(
        fc.asyncProperty(mutatedStream(bases), async (m) => {
          const file = files.write("input.save", m.bytes);
          const i = await outcome(
            ["inspect", file, "--json", "--ram-records", "1"],
            m.label,
            INSPECT_ALLOCATION_BOUND,
          );
          inspectStats.record({
            ms: i.ms,
            allocation: i.largest,
            rssGrowth: i.rssGrowth,
            label: m.label,
            ...(i.refusal ? { refusal: i.refusal } : {}),
          });
          const r = await outcome(
            [
              "restore",
              file,
              "--run-for",
              "0",
              "--json",
              "--max-memory",
              String(RESTORE_BUDGET_MIB),
            ],
            m.label,
            RESTORE_ALLOCATION_BOUND,
          );
          restoreStats.record({
            ms: r.ms,
            allocation: r.largest,
            rssGrowth: r.rssGrowth,
            label: m.label,
            ...(r.refusal ? { refusal: r.refusal } : {}),
          });
          if (m.mustRefuse && (i.refusal === undefined || r.refusal === undefined))
            throw new Error(
              `${i.refusal === undefined ? "inspect" : "restore"} accepted a file every reader must refuse: ${m.label}`,
            );
          if (r.refusal === undefined && i.refusal !== undefined)
            throw new Error(
              `restore ran a VM from a file inspect refuses (${i.refusal}): ${m.label}`,
            );
          if (restoreStats.inputs % 100 === 0)
            restoreStats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
        }),
        { numRuns: fuzzRuns(20, 0.2), seed: inspectStats.seed, timeout: INPUT_TIME_BOUND_MS * 3 },
      ),
    );
    restoreStats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
    inspectStats.retainedGrowthMiB = restoreStats.retainedGrowthMiB;
    // Every VM a restore built was destroyed: no worker, timer or file handle left behind.
    await new Promise((r) => setTimeout(r, 200));
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handles + 2);
  });
});
