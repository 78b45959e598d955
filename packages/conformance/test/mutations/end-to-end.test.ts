import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";

const toyPlugin = createToyPlugin();

// Bug: a target-side compatibility check that refuses the plugin's own devices (e.g. it
// compares the blob against the wrong version constant), so every handshake is rejected.
const refusesItself = {
  ...toyPlugin,
  checkCompatible: () => ({ compatible: false as const, reason: "toy: wrong version constant" }),
};

describe("end-to-end group catches failures only the engine path shows", () => {
  it("fails for a plugin whose handshake check refuses its own devices", async () => {
    await expect(runConformanceGroup("end-to-end", refusesItself, toyOptions)).rejects.toThrow(
      /wrong version constant/,
    );
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("end-to-end", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
