import { MigFlags } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { describeVendorDriverConformance, type SuiteApi } from "../src/index.js";
import { mdevkitVitestConfig } from "../src/vitest-preset.js";
import { toyOptions } from "./fixtures/toy-options.js";
import { createToyPlugin } from "./fixtures/toy-plugin.js";

/** The timeout each check of the suite is registered with, collected without running any. */
function registeredTimeouts(timeoutMs?: number): (number | undefined)[] {
  const timeouts: (number | undefined)[] = [];
  const api: SuiteApi = {
    describe: (_name, fn) => fn(),
    it: Object.assign(
      (_name: string, _fn: () => Promise<void>, timeout?: number) => {
        timeouts.push(timeout);
      },
      { skip: () => {} },
    ),
  };
  describeVendorDriverConformance(
    createToyPlugin({ flags: MigFlags.STOP_COPY }),
    { ...toyOptions, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    api,
  );
  return timeouts;
}

// A timeout catches a hang. On a loaded two-core machine a check that takes 2 s alone has
// taken 15 s, and the old 30 s was within reach of a vendor's busy CI.
describe("timeouts of the suite's checks and of the vitest preset", () => {
  it("each check gets 120 s unless timeoutMs says otherwise", () => {
    const timeouts = registeredTimeouts();
    expect(timeouts.length).toBeGreaterThan(10);
    expect(new Set(timeouts)).toEqual(new Set([120_000]));
    expect(new Set(registeredTimeouts(5))).toEqual(new Set([5]));
  });

  it("the preset gives each test 120 s", () => {
    expect(mdevkitVitestConfig().test?.testTimeout).toBe(120_000);
  });
});
