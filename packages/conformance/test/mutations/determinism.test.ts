import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

// Bug: activity drawn from Math.random instead of the device seed.
const nondeterministic = mutatePlugin(toyPlugin, (real) => ({
  tick: () => {
    real.tick?.();
    if (Math.random() < 0.5) real.tick?.();
  },
}));

describe("determinism group catches behaviour that does not follow the seed", () => {
  it("fails for a device whose activity uses Math.random", async () => {
    await expect(
      runConformanceGroup("determinism", nondeterministic, toyOptions, { only: /two runs/ }),
    ).rejects.toThrow(/differ/);
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("determinism", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
