import "reflect-metadata";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { mttyOptions } from "../fixtures/mtty-options.js";
import { mutatePlugin } from "../fixtures/wrap.js";

// Bug: activity drawn from Math.random instead of the device seed.
const nondeterministic = mutatePlugin(mttyPlugin, (real) => ({
  tick: () => {
    real.tick?.();
    if (Math.random() < 0.5) real.tick?.();
  },
}));

describe("determinism group catches behaviour that does not follow the seed", () => {
  it("fails for a device whose activity uses Math.random", async () => {
    await expect(
      runConformanceGroup("determinism", nondeterministic, mttyOptions, { only: /two runs/ }),
    ).rejects.toThrow(/differ/);
  });

  it("passes for mtty", async () => {
    await expect(
      runConformanceGroup("determinism", mttyPlugin, mttyOptions),
    ).resolves.toBeDefined();
  });
});
