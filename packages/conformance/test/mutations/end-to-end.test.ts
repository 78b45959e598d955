import "reflect-metadata";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { mttyOptions } from "../fixtures/mtty-options.js";

// Bug: a target-side compatibility check that refuses the plugin's own devices (e.g. it
// compares the blob against the wrong version constant), so every handshake is rejected.
const refusesItself = {
  ...mttyPlugin,
  checkCompatible: () => ({ compatible: false as const, reason: "mtty: wrong version constant" }),
};

describe("end-to-end group catches failures only the engine path shows", () => {
  it("fails for a plugin whose handshake check refuses its own devices", async () => {
    await expect(runConformanceGroup("end-to-end", refusesItself, mttyOptions)).rejects.toThrow(
      /wrong version constant/,
    );
  });

  it("passes for mtty", async () => {
    await expect(runConformanceGroup("end-to-end", mttyPlugin, mttyOptions)).resolves.toBeDefined();
  });
});
