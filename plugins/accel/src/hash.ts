/**
 * Counter-based draws: every value is a pure function of its coordinates (seed, stream,
 * counter), so nothing the device or the guest draws needs migrating beyond the counters
 * that are already guest-visible state (job ids, guest ticks).
 */

/** 32-bit avalanche mix ("lowbias32" finaliser): every input bit affects every output bit. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A draw keyed by (seed, salt, a, b): u32. */
export function draw(seed: number, salt: number, a: number, b = 0): number {
  return mix32(mix32(mix32(seed ^ salt) ^ a) + b);
}
