/**
 * Counter-based randomness: every draw is a pure function of its coordinates (seed,
 * stream, index), so a workload resumed on the target continues exactly as the source
 * would have without migrating any generator state.
 */

/** 32-bit avalanche mix ("lowbias32"): every input bit affects every output bit. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A draw keyed by (seed, stream, index): the same coordinates always give the same u32. */
export function draw(seed: number, stream: number, index: number): number {
  return mix32(mix32(mix32(seed ^ 0x5eed) ^ stream) ^ index);
}
