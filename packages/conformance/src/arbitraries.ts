/**
 * fast-check arbitraries shared by the suite's property checks, exported so plugin
 * authors can write their own properties in the same terms.
 */
import { ALL_MIG_STATES, isStateSupported, LEGAL_FLAG_SETS, type MigState } from "@mdevkit/core";
import fc from "fast-check";

/**
 * Chunk sizes that split a stream of `length` bytes at arbitrary boundaries, biased
 * towards the cases that break parsers: single bytes, splits inside a header, one big write.
 * Sizes are cycled by `writeChunks`, so a short array still covers a long stream.
 */
export function chunkSplits(length: number): fc.Arbitrary<number[]> {
  const max = Math.max(1, length);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<number[]>([1]) },
    { weight: 1, arbitrary: fc.constant<number[]>([max]) },
    {
      weight: 6,
      arbitrary: fc.array(fc.integer({ min: 1, max: Math.max(1, Math.min(max, 64)) }), {
        minLength: 1,
        maxLength: 24,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.integer({ min: 1, max }), { minLength: 1, maxLength: 6 }),
    },
  );
}

/** Cut points of an explicit split: sorted, distinct offsets strictly inside `[1, length)`. */
export function cutPoints(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(32, length - 1) })
    .map((cuts) => cuts.sort((a, b) => a - b));
}

/** Chunk sizes equivalent to cutting at `cuts` (for `writeChunks`). */
export function sizesFromCuts(length: number, cuts: readonly number[]): number[] {
  const sizes: number[] = [];
  let at = 0;
  for (const c of [...cuts, length]) {
    if (c > at) sizes.push(c - at);
    at = c;
  }
  return sizes.length > 0 ? sizes : [Math.max(1, length)];
}

/** One of the four legal migration flag sets. */
export const legalFlagSet: fc.Arbitrary<number> = fc.constantFrom(...LEGAL_FLAG_SETS);

/** Any 32-bit value as flags, legal or not (for refusal properties). */
export const anyFlagSet: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffffffff });

/** A (from, to) pair of states supported under `flags` (they may be equal). */
export function statePair(flags: number): fc.Arbitrary<[MigState, MigState]> {
  const states = ALL_MIG_STATES.filter((s) => isStateSupported(flags, s));
  return fc.tuple(fc.constantFrom(...states), fc.constantFrom(...states));
}

/** A device or workload seed (u32). */
export const seed: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffffffff });

/** A position inside a stream of `length` bytes and a bit to flip there. */
export function bitFlip(length: number): fc.Arbitrary<{ offset: number; bit: number }> {
  return fc.record({
    offset: fc.integer({ min: 0, max: Math.max(0, length - 1) }),
    bit: fc.integer({ min: 0, max: 7 }),
  });
}

/** A strict prefix length of a stream of `length` bytes (0 … length − 1). */
export function truncation(length: number): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: Math.max(0, length - 1) });
}

/** `bytes` with bit `bit` of byte `offset` flipped (a copy). */
export function flipBit(bytes: Uint8Array, offset: number, bit: number): Uint8Array {
  const out = bytes.slice();
  out[offset] = (out[offset] ?? 0) ^ (1 << bit);
  return out;
}
