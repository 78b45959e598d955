import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/stream-error.js";
import { GuestMemory } from "../../src/memory/guest-memory.js";
import {
  forEachRamPage,
  isDataPage,
  PAGE_SIZE,
  StreamDecoder,
  StreamEncoder,
  type StreamRecord,
} from "../../src/stream/index.js";
import {
  CONFIG,
  concat,
  detach,
  encodeScenario,
  expectedRam,
  fuzzRuns,
  scenarioArb,
} from "./stream-fixtures.js";

const ZERO = new Uint8Array(PAGE_SIZE);

/** Four pages per segment, so generated runs cross segment boundaries. */
function guest(pages: number): GuestMemory {
  return GuestMemory.create({ size: pages * PAGE_SIZE, segmentSize: 4 * PAGE_SIZE });
}

/**
 * Decodes `bytes` with `memory` as the RAM sink (or none), feeding every chunk through ONE
 * reused buffer as a socket read into a fixed buffer would, and applies what the records
 * leave to the consumer (zero pages; whole data when not written by the sink).
 */
function decodeInto(
  bytes: Uint8Array,
  guestPages: number,
  memory: GuestMemory | undefined,
  chunkSizes: readonly number[],
): StreamRecord[] {
  const dec = new StreamDecoder({ guestPages });
  if (memory) dec.setRamSink(memory);
  const reused = new Uint8Array(Math.max(...chunkSizes, 1));
  const out: StreamRecord[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.byteLength) {
    const n = Math.min(
      bytes.byteLength - at,
      Math.max(1, chunkSizes[i++ % chunkSizes.length] ?? 1),
    );
    reused.set(bytes.subarray(at, at + n));
    for (const r of dec.push(reused.subarray(0, n))) {
      if (r.type === "RAM_PAGES" && memory) {
        forEachRamPage(r, PAGE_SIZE, (pfn, page) => {
          if (page === undefined) memory.writeUntracked(pfn * PAGE_SIZE, ZERO);
          else if (!r.inSink) memory.writeUntracked(pfn * PAGE_SIZE, page);
        });
      }
      out.push(detach(r));
    }
    // Scribble over the buffer: nothing the decoder kept may depend on it.
    reused.fill(0xa5);
    at += n;
  }
  dec.finish();
  return out;
}

/** What an error says, to compare the sink path with the ordinary one. */
function failure(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (err) {
    if (!(err instanceof StreamError)) throw err;
    return `${err.code} ${err.message}`;
  }
}

// Small chunks split pages across reads; large ones complete several pages in one copy,
// which are hashed as one batch.
const chunksArb = fc.array(
  fc.oneof(fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 6000, max: 40_000 })),
  { minLength: 1, maxLength: 6 },
);

describe("StreamDecoder with a RAM sink (RAM_PAGES straight into guest memory)", () => {
  it("rebuilds guest memory bit for bit, in any chunking, through one reused read buffer", () => {
    fc.assert(
      fc.property(scenarioArb, chunksArb, (s, chunks) => {
        const bytes = concat(encodeScenario(s).flat());
        const memory = guest(s.guestPages);
        const withSink = decodeInto(bytes, s.guestPages, memory, chunks);
        const without = decodeInto(bytes, s.guestPages, undefined, chunks);
        expect(withSink.map((r) => [r.type, r.seq, r.offset])).toEqual(
          without.map((r) => [r.type, r.seq, r.offset]),
        );
        expect(Buffer.from(memory.read(0, memory.size)).equals(Buffer.from(expectedRam(s)))).toBe(
          true,
        );
        withSink.forEach((r, i) => {
          const o = without[i];
          if (r.type !== "RAM_PAGES" || o?.type !== "RAM_PAGES") return;
          // The per-page CRCs the digest table takes are the same either way.
          expect([...(r.pageCrcs ?? [])]).toEqual([...(o.pageCrcs ?? [])]);
          expect([...r.kinds]).toEqual([...o.kinds]);
          let data = 0;
          for (let k = 0; k < r.count; k++) if (isDataPage(r.kinds, k)) data++;
          // Every run with data pages is written by the sink; only marker-only runs are not.
          expect(r.inSink === true).toBe(data > 0);
        });
      }),
      { numRuns: fuzzRuns(60) },
    );
  });

  it("refuses a damaged stream with the same error as without the sink", () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        chunksArb,
        (s, pos, bit, chunks) => {
          const bytes = concat(encodeScenario(s).flat());
          const at = pos % bytes.byteLength;
          bytes[at] = (bytes[at] as number) ^ (1 << bit);
          const withSink = failure(() =>
            decodeInto(bytes, s.guestPages, guest(s.guestPages), chunks),
          );
          const without = failure(() => decodeInto(bytes, s.guestPages, undefined, chunks));
          expect(withSink).toBe(without);
          expect(withSink).not.toBe("ok");
        },
      ),
      { numRuns: fuzzRuns(150) },
    );
  });

  it("every bit of a RAM_PAGES frame header, head and bitmap: the same refusal as without the sink", () => {
    const enc = new StreamEncoder();
    const start = concat(enc.start({ config: CONFIG, devices: [] }));
    const pages = new Uint8Array(12 * PAGE_SIZE);
    for (let p = 0; p < 12; p++)
      if (p % 3 !== 1) pages.fill(p + 1, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    const bytes = concat([start, ...enc.ramRange(2, pages)]);
    // Frame header (12) + run head (16) + bitmap (2) + the first data bytes.
    for (let at = start.byteLength; at < start.byteLength + 12 + 16 + 2 + 4; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = bytes.slice();
        damaged[at] = (damaged[at] as number) ^ (1 << bit);
        for (const chunk of [7, 5000]) {
          const withSink = failure(() => decodeInto(damaged, 16, guest(16), [chunk]));
          expect(withSink).toBe(failure(() => decodeInto(damaged, 16, undefined, [chunk])));
          expect(withSink).not.toBe("ok");
        }
      }
    }
  });

  it("writes nothing for a run outside guest RAM, and only the run's pages for a damaged one", () => {
    const enc = new StreamEncoder();
    const run = new Uint8Array(4 * PAGE_SIZE).fill(7);
    const bytes = concat([...enc.start({ config: CONFIG, devices: [] }), ...enc.ramRange(4, run)]);
    // Pages 4..7 do not exist in a 6-page guest: refused from the head, before any write.
    const small = guest(6);
    expect(failure(() => decodeInto(bytes, 6, small, [100]))).toMatch(
      /^EPROTO .*page-range|outside/,
    );
    expect(small.read(0, small.size).every((b) => b === 0)).toBe(true);
    // A flipped data byte: refused on the CRC; only the run's own pages were touched.
    const damaged = bytes.slice();
    damaged[damaged.byteLength - 100] = (damaged[damaged.byteLength - 100] as number) ^ 1;
    const memory = guest(16);
    expect(failure(() => decodeInto(damaged, 16, memory, [3000]))).toMatch(/^EBADMSG .*CRC32C/);
    expect(memory.read(0, 4 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(memory.read(8 * PAGE_SIZE, 8 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });
});
