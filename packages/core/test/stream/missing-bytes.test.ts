import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FRAME_HEADER_LENGTH, HEADER_LENGTH, StreamDecoder } from "../../src/stream/index.js";
import { chunkSizesArb, concat, encodeScenario, scenarioArb } from "./stream-fixtures.js";

/**
 * Where each unit the decoder reads ends: the stream header, then each frame's header and
 * the frame itself (payload and trailer).
 */
function unitEnds(records: readonly Uint8Array[][]): number[] {
  const ends = [HEADER_LENGTH];
  let at = 0;
  records.forEach((frames, i) => {
    const start = i === 0 ? HEADER_LENGTH : at;
    at += frames.reduce((n, f) => n + f.byteLength, 0);
    ends.push(start + FRAME_HEADER_LENGTH, at);
  });
  return ends;
}

// The target tells its channel how many bytes the decoder still needs (SO_RCVLOWAT): more
// than the stream is sure to send would stall a sound migration, less wastes wake-ups.
describe("the decoder's missing bytes", () => {
  it("are exactly what is left of the unit it is reading, in any chunking", () => {
    fc.assert(
      fc.property(scenarioArb, chunkSizesArb, (s, sizes) => {
        const records = encodeScenario(s);
        const bytes = concat(records.flat());
        const ends = unitEnds(records);
        const dec = new StreamDecoder({ guestPages: s.guestPages });
        expect(dec.missing).toBe(HEADER_LENGTH);
        let at = 0;
        for (let i = 0; at < bytes.byteLength; i++) {
          const n = Math.min(sizes[i % sizes.length] as number, bytes.byteLength - at);
          for (const _ of dec.push(bytes.subarray(at, at + n)));
          at += n;
          if (at === bytes.byteLength) break;
          const end = ends.find((e) => e > at) as number;
          expect(dec.missing).toBe(end - at);
        }
      }),
      { numRuns: 60 },
    );
  });
});
