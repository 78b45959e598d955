// The benchmark's machine lines (packages/cli/bench/machine.mjs): what the figures ran on.
import "reflect-metadata";
import { describe, expect, it } from "vitest";
// @ts-expect-error: the benchmark is plain JavaScript (bench/ is not compiled).
import { describeMachine } from "../bench/machine.mjs";

describe("the benchmark's machine description", () => {
  it.skipIf(process.platform !== "linux" || process.env.MDEVKIT_NATIVE === "0")(
    "says guest RAM is advised to huge pages where core's addon advises them, with the host's setting",
    () => {
      expect(describeMachine().guestRam).toMatch(
        /^advised to transparent huge pages \(the host's setting: (always|madvise|never|unknown)\)$/,
      );
    },
  );
});
