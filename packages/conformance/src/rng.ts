/**
 * A small seeded generator for hooks. Counter-free and stateful (mulberry32): each
 * harness gets its own, so two harnesses built from the same seed see the same draws.
 */
export interface Rng {
  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number;
  /** Integer in `[0, maxExclusive)`. */
  int(maxExclusive: number): number;
  /** Float in `[0, 1)`. */
  float(): number;
  /** One element of `items` (non-empty). */
  pick<T>(items: readonly T[]): T;
}

/** A {@link Rng} seeded with `seed` (any integer; only the low 32 bits matter). */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const nextU32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextU32,
    int: (maxExclusive) => (maxExclusive <= 0 ? 0 : nextU32() % maxExclusive),
    float: () => nextU32() / 0x1_0000_0000,
    pick: (items) => items[nextU32() % items.length] as (typeof items)[number],
  };
}

/** Mixes a salt into a seed so different roles (source, target, target's guest) draw differently. */
export function deriveSeed(seed: number, salt: number): number {
  let h = (seed ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
