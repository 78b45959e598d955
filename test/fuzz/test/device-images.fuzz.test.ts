// Every plugin's RESUMING path (its _loadState and the checks before it) fed mutated real
// images: refused with a typed one-line error, or — when the edit happens to be valid —
// accepted into a device that runs, serves its guest, and saves an image that loads again.

import { arbitraries, reach } from "@mdevkit/conformance";
import { isMdevError, MigState } from "@mdevkit/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureAllocations, retainedMiB } from "../helpers/allocation-probe.js";
import {
  expectWithinBudget,
  FuzzStats,
  fuzzRuns,
  fuzzSeed,
  INPUT_TIME_BOUND_MS,
} from "../helpers/budget.js";
import {
  deviceImage,
  exercise,
  FUZZED_PLUGINS,
  type FuzzedPlugin,
  loadIntoFresh,
  resave,
} from "../helpers/device-images.js";
import { mutatedImage } from "../helpers/image-mutations.js";
import { parseImage, serializeImage } from "../helpers/state-surgery.js";
import { typedRefusal } from "../helpers/typed-rejection.js";

/** No device image may make a load allocate more than this (the largest is GVT-g's, < 16 MiB). */
const ALLOCATION_BOUND = 64 * 2 ** 20;
/** Growth of what stays reachable over a whole property, MiB (a leak per input shows here). */
const RETAINED_BOUND_MIB = 64;

/** What happened to one mutated image after it was accepted. */
async function checkAccepted(
  p: FuzzedPlugin,
  h: Awaited<ReturnType<typeof loadIntoFresh>>,
  what: string,
) {
  // Accepted state must be whole: saved again from STOP, it loads into another device.
  const again = await resave(h);
  try {
    (await loadIntoFresh(p, again, [again.byteLength || 1])).dispose();
  } catch (err) {
    throw new Error(
      `${what}: accepted, but its re-saved image is refused: ${(err as Error).message}`,
    );
  }
  // And the device runs and serves its guest; a refused access must be typed.
  await reach(h.driver, MigState.RUNNING);
  try {
    await exercise(p, h, 2);
  } catch (err) {
    typedRefusal(err, `${what}: guest work on the accepted device`);
  }
}

describe.each(FUZZED_PLUGINS.map((p) => [p.name, p] as const))("%s device images", (name, p) => {
  let bases: Uint8Array[] = [];
  const stats = new FuzzStats(`${name} _loadState`, fuzzSeed(`images-${name}`));

  beforeAll(async () => {
    bases = [await deviceImage(p, 11, 3), await deviceImage(p, 12, 6), await deviceImage(p, 13, 1)];
  });
  afterAll(() => {
    stats.report();
  });

  it("parse and re-seal reproduce every base image exactly (the surgery is exact)", () => {
    for (const b of bases)
      expect(Buffer.from(serializeImage(parseImage(b))).equals(Buffer.from(b))).toBe(true);
  });

  it("a mutated image is refused typed, or accepted into a device that works", async () => {
    const start = retainedMiB();
    await stats.run(() =>
      fc.assert(
        fc.asyncProperty(
          mutatedImage(bases),
          fc.nat().chain((n) => arbitraries.chunkSplits(1 + (n % 70000))),
          async (m, sizes) => {
            const t0 = performance.now();
            let refusal: string | undefined;
            const { largest, rssGrowth } = await measureAllocations(async () => {
              try {
                const h = await loadIntoFresh(p, m.bytes, sizes);
                try {
                  await checkAccepted(p, h, m.label);
                } finally {
                  h.dispose();
                }
              } catch (err) {
                if (!isMdevError(err) && (err as Error).message?.includes(m.label)) throw err;
                refusal = typedRefusal(err, m.label);
              }
            });
            const ms = performance.now() - t0;
            expectWithinBudget(m.label, { ms, largest, rssGrowth }, ALLOCATION_BOUND);
            stats.record({
              ms,
              allocation: largest,
              rssGrowth,
              label: m.label,
              ...(refusal ? { refusal } : {}),
            });
            if (stats.inputs % 200 === 0)
              stats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
          },
        ),
        { numRuns: fuzzRuns(60, 1), seed: stats.seed, timeout: INPUT_TIME_BOUND_MS * 2 },
      ),
    );
    stats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
  });
});
