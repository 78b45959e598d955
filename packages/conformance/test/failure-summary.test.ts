// The FAILED lines of `npm test` (scripts/run-tests.mjs, via scripts/test-summary.mjs) for
// the suite's property checks: fast-check's own first line only says "Property failed
// after N tests", so the line must also carry what the counterexample broke. The messages
// here are what vitest's JSON report stores for a failed test: the error's stack.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
// @ts-expect-error: the root's scripts are plain JavaScript (scripts/ is not compiled).
import { FAILURE_PART_MAX, failureText } from "../../../scripts/test-summary.mjs";
import { runConformanceGroup } from "../src/index.js";
import { toyOptions } from "./fixtures/toy-options.js";
import { createToyPlugin } from "./fixtures/toy-plugin.js";

/** What vitest's JSON report keeps of `err` in `failureMessages`. */
function reported(err: unknown): string[] {
  return [err instanceof Error ? (err.stack ?? err.message) : String(err)];
}

async function failureOf(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

describe("the FAILED line of a property failure names what the counterexample broke", () => {
  it("carries the conformance rule a half-applied load broke, not only 'Property failed'", async () => {
    const halfApply = createToyPlugin({ bugs: ["half-apply"] });
    const err = await failureOf(() =>
      runConformanceGroup("bad-streams", halfApply, toyOptions, { only: /flipped bit/ }),
    );
    const text: string = failureText(reported(err));
    expect(text).toMatch(
      /^ConformanceViolation: \[bad-streams\] a stream with a flipped bit .*Property failed after \d+ tests? — the stream with bit \d of byte \d+ flipped: the refused load was half-applied: \$\.regs/,
    );
  });

  it("carries fast-check's 'Got error' line when the error is in the report", async () => {
    const err = await failureOf(() =>
      fc.assert(
        fc.property(fc.nat(), (n) => {
          if (n > 10) throw new Error(`too big: ${n}`);
        }),
        { seed: 1, includeErrorInReport: true },
      ),
    );
    expect(failureText(reported(err))).toMatch(/^Error: Property failed .* — too big: \d+$/);
  });

  it("carries the counterexample when fast-check kept the error only in `cause`", async () => {
    const err = await failureOf(() =>
      fc.assert(
        fc.property(fc.nat(), (n) => {
          if (n > 10) throw new Error(`too big: ${n}`);
        }),
        { seed: 1 },
      ),
    );
    expect(failureText(reported(err))).toMatch(
      /^Error: Property failed .* — Counterexample: \[\d+\]$/,
    );
  });

  it("keeps other failures to their first line, and every part bounded", () => {
    expect(failureText(["\nAssertionError: expected 1 to be 2\n    at x.test.ts:1:1"])).toBe(
      "AssertionError: expected 1 to be 2",
    );
    expect(failureText(undefined)).toBe("");
    const long = "x".repeat(5000);
    const text: string = failureText([
      `Error: Property failed after 2 tests ${long}\n  caused by: ${long}`,
    ]);
    expect(text.length).toBeLessThanOrEqual(2 * FAILURE_PART_MAX + 3);
    expect(text).toContain("… — xxx");
  });
});
