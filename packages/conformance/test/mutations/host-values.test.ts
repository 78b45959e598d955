import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";

describe("host-values group catches host addresses in the stream", () => {
  it("fails for a driver that saves its host shadow address", async () => {
    const leaky = createToyPlugin({ bugs: ["leak-host-address"] });
    await expect(runConformanceGroup("host-values", leaky, toyOptions)).rejects.toThrow(
      /host-only value 0x[0-9a-f]+ is in the stream \(u32 at/,
    );
  });

  it("passes for the correct toy", async () => {
    await expect(
      runConformanceGroup("host-values", createToyPlugin(), toyOptions),
    ).resolves.toBeDefined();
  });
});
