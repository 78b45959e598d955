import { crc32 } from "node:zlib";
import { MigState } from "@mdevkit/core";
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

// Bug: the payload of each DMA record comes from Math.random, and the record ends with the
// CRC-32 of what precedes it, as hardware records often do. A CRC of such a record is the
// same constant whatever it holds, so a trace fingerprinted by CRC cannot tell two runs apart.
const selfCheckedRandomRecords = (bytes: number) =>
  mutatePlugin(toyPlugin, (real, ctx) => {
    let seq = 0;
    return {
      tick: () => {
        real.tick?.();
        if (real.getState() !== MigState.RUNNING && real.getState() !== MigState.PRE_COPY) return;
        const record = new Uint8Array(bytes);
        const v = new DataView(record.buffer);
        v.setUint32(0, seq, true);
        v.setUint32(4, 0x5ca7c4, true);
        v.setUint32(8, (Math.random() * 2 ** 32) >>> 0, true);
        v.setUint32(bytes - 4, crc32(record.subarray(0, bytes - 4)), true);
        ctx.dma.write(0x3000 + (seq % 64) * bytes, record);
        seq++;
      },
    };
  });

describe("determinism group catches behaviour that does not follow the seed", () => {
  it("fails for a device whose activity uses Math.random", async () => {
    await expect(
      runConformanceGroup("determinism", nondeterministic, toyOptions, { only: /two runs/ }),
    ).rejects.toThrow(/differ/);
  });

  // 16-byte records are traced whole, 256-byte ones by digest: both must tell runs apart.
  it.each([16, 256])(
    "fails for a device whose %i-byte DMA records hold random payloads behind their own CRC",
    async (bytes) => {
      await expect(
        runConformanceGroup("determinism", selfCheckedRandomRecords(bytes), toyOptions, {
          only: /two runs/,
        }),
      ).rejects.toThrow(/DMA\/interrupt traces before switchover differ at event \d+/);
    },
  );

  it("passes for the correct toy", async () => {
    await expect(runConformanceGroup("determinism", toyPlugin, toyOptions)).resolves.toBeDefined();
  });
});
