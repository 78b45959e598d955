/**
 * Counter-based draws: every value is a pure function of its coordinates (seed, stream,
 * counter), so nothing the device or the guest draws needs migrating beyond the counters
 * that are already guest-visible state (job ids, guest ticks).
 */
import { mix32 } from "@mdevkit/core";

/** A draw keyed by (seed, salt, a, b): u32. */
export function draw(seed: number, salt: number, a: number, b = 0): number {
  return mix32(mix32(mix32(seed ^ salt) ^ a) + b);
}
