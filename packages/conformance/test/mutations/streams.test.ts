import { isMdevError, type MigState } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import { runConformanceGroup } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";
import { mutatePlugin, mutateStream } from "../fixtures/wrap.js";

const toyPlugin = createToyPlugin();

// Bug: PRE_COPY's temporary end reported as a 0-byte read (the permanent end), so a VMM
// stops reading precopy data for good.
const eofInPrecopy = mutatePlugin(toyPlugin, (real) => ({
  setState: async (next: MigState) => {
    const stream = await real.setState(next);
    if (stream === undefined || stream.direction !== "saving") return stream;
    return mutateStream(stream, {
      read: async (n) => {
        try {
          return await stream.read(n);
        } catch (err) {
          if (isMdevError(err, "ENOMSG")) return new Uint8Array(0);
          throw err;
        }
      },
    });
  },
}));

describe("streams group catches a wrong end of data", () => {
  it("fails for a driver that answers PRE_COPY's temporary end with 0 bytes", async () => {
    await expect(
      runConformanceGroup("streams", eofInPrecopy, toyOptions, { only: /PRE_COPY reads/ }),
    ).rejects.toThrow(/returned 0 bytes/);
  });

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("streams", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
