// A sample of mutated save files through the real `mdevkit` binary: what an operator sees.
// Exit 0, or exit 1 with exactly one line `mdevkit: CODE: …` on stderr; never a signal,
// never a stack trace, never a hang (killed after a generous bound).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FuzzStats, fuzzRuns, fuzzSeed, RESTORE_BUDGET_MIB } from "../helpers/budget.js";
import { type BinaryRun, runBinary } from "../helpers/cli-run.js";
import { baseSaveFiles, scratch } from "../helpers/save-files.js";
import { mutatedStream } from "../helpers/stream-mutations.js";

/** A child gets longer than an in-process call: it starts Node and loads every plugin. */
const CHILD_TIME_BOUND_MS = 60_000;

/** Checks how a child ended; returns the refusal's code, or undefined for exit 0. */
function verdict(run: BinaryRun, what: string): string | undefined {
  expect(run.hung, `${what}: still running after ${CHILD_TIME_BOUND_MS} ms (a hang)`).toBe(false);
  expect(run.signal, `${what}: killed by a signal`).toBeNull();
  if (run.code === 0) return undefined;
  expect(run.code, `${what}: exit code`).toBe(1);
  const lines = run.stderr.split("\n").filter((l) => l !== "");
  expect(lines, `${what}: stderr is not one line:\n${run.stderr}`).toHaveLength(1);
  const m = /^mdevkit: (E[A-Z0-9]+): ./.exec(lines[0] ?? "");
  expect(m, `${what}: not a typed one-line error: ${lines[0]}`).not.toBeNull();
  return m?.[1];
}

describe("the mdevkit binary on mutated save files (a sample)", () => {
  let bases: Uint8Array[] = [];
  const files = scratch();
  const stats = new FuzzStats("inspect + restore (binary)", fuzzSeed("binary"));
  beforeAll(async () => {
    bases = await baseSaveFiles();
  });
  afterAll(() => {
    stats.report();
    files.dispose();
  });

  it("inspect and restore exit 0, or 1 with one typed line", async () => {
    await stats.run(() =>
      fc.assert(
        fc.asyncProperty(mutatedStream(bases), async (m) => {
          const file = files.write("input.save", m.bytes);
          const inspect = await runBinary(["inspect", file, "--json"], CHILD_TIME_BOUND_MS);
          const i = verdict(inspect, `inspect ${m.label}`);
          const restore = await runBinary(
            ["restore", file, "--run-for", "0", "--max-memory", String(RESTORE_BUDGET_MIB)],
            CHILD_TIME_BOUND_MS,
          );
          const r = verdict(restore, `restore ${m.label}`);
          const refusal = i || r ? `inspect ${i ?? "ok"}, restore ${r ?? "ok"}` : undefined;
          stats.record({ ms: inspect.ms + restore.ms, ...(refusal ? { refusal } : {}) });
          if (r === undefined && i !== undefined)
            throw new Error(`restore ran a VM from a file inspect refuses (${i}): ${m.label}`);
        }),
        { numRuns: fuzzRuns(2, 0.01), seed: stats.seed, timeout: CHILD_TIME_BOUND_MS * 2 + 10_000 },
      ),
    );
  });
});
