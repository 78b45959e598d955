// The stream decoder, as a target runs it, fed mutated real save files: every edit that a
// CRC would catch is re-sealed, so lengths, ranges, order and END's totals are reached.
// packages/core/test/stream/fuzz.test.ts covers generated streams with stale CRCs
// (truncation, bit flips, reordering, huge lengths); this covers what a peer that knows
// the format can send.
import {
  DEFAULT_STREAM_LIMITS,
  FRAME_HEADER_LENGTH,
  FRAME_TRAILER_LENGTH,
  parseVmConfig,
  StreamDecoder,
} from "@mdevkit/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureAllocationsSync, retainedMiB } from "../helpers/allocation-probe.js";
import { expectWithinBudget, FuzzStats, fuzzRuns, fuzzSeed } from "../helpers/budget.js";
import { baseSaveFiles } from "../helpers/save-files.js";
import { mutatedStream } from "../helpers/stream-mutations.js";
import { typedRefusal } from "../helpers/typed-rejection.js";

/** The decoder holds at most one record: nothing it allocates may exceed one. */
const ALLOCATION_BOUND =
  DEFAULT_STREAM_LIMITS.maxRecordLength + FRAME_HEADER_LENGTH + FRAME_TRAILER_LENGTH;
const RETAINED_BOUND_MIB = 64;

/**
 * Decodes `bytes` in `chunk`-sized pieces the way a target does: the guest size comes from
 * the HANDSHAKE's config once it is valid, and the stream must end cleanly. Returns the
 * error (undefined when the stream was accepted).
 */
function decodeAsTarget(bytes: Uint8Array, chunk: number): unknown {
  const decoder = new StreamDecoder();
  try {
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      for (const r of decoder.push(bytes.subarray(at, at + chunk))) {
        if (r.type === "HANDSHAKE") {
          const config = parseVmConfig(JSON.parse(new TextDecoder().decode(r.config)));
          decoder.setGuestPageCount((config.memoryMiB * 2 ** 20) / 4096);
        }
      }
    }
    decoder.finish();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe("stream decoder on mutated save files", () => {
  let bases: Uint8Array[] = [];
  const stats = new FuzzStats("decoder", fuzzSeed("decoder"));
  beforeAll(async () => {
    bases = await baseSaveFiles();
  });
  afterAll(() => {
    stats.report();
  });

  it("the unmutated files decode", () => {
    for (const b of bases) expect(decodeAsTarget(b, 65536)).toBeUndefined();
  });

  it("every mutation is refused with a typed one-line error or decodes cleanly; covered edits are refused", async () => {
    const start = retainedMiB();
    await stats.run(() =>
      fc.assert(
        fc.property(
          mutatedStream(bases),
          fc.oneof(
            { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) },
            { weight: 6, arbitrary: fc.integer({ min: 512, max: 1 << 20 }) },
            { weight: 1, arbitrary: fc.constant(1 << 30) },
          ),
          (m, chunk) => {
            // One-byte chunks over megabytes would measure the loop, not the decoder.
            const size = m.bytes.byteLength > 200_000 && chunk < 64 ? chunk * 4096 : chunk;
            const t0 = performance.now();
            const {
              result: err,
              largest,
              rssGrowth,
            } = measureAllocationsSync(() => decodeAsTarget(m.bytes, size));
            const ms = performance.now() - t0;
            const refusal = err === undefined ? undefined : typedRefusal(err, m.label);
            if (refusal === undefined && m.mustRefuse)
              throw new Error(`accepted a stream every reader must refuse: ${m.label}`);
            expectWithinBudget(m.label, { ms, largest, rssGrowth }, ALLOCATION_BOUND);
            stats.record({
              ms,
              allocation: largest,
              rssGrowth,
              label: m.label,
              ...(refusal ? { refusal } : {}),
            });
            if (stats.inputs % 500 === 0)
              stats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
          },
        ),
        { numRuns: fuzzRuns(150, 2), seed: stats.seed },
      ),
    );
    stats.checkRetained(retainedMiB() - start, RETAINED_BOUND_MIB);
  });
});
