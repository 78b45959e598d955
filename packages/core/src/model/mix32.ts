/**
 * 32-bit avalanche mix (the "lowbias32" finaliser): every input bit affects every output
 * bit. Device models build counter-based draws from it — each value a pure function of
 * (seed, stream, counter) — so a target seeded like the source continues with exactly
 * the values the source would have drawn, and no generator state needs migrating.
 */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}
