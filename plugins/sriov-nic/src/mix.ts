/**
 * Counter-based randomness: every draw is a pure function of its coordinates (seed,
 * stream, index), so a workload resumed on the target continues exactly as the source
 * would have without migrating any generator state.
 */
import { mix32 } from "@mdevkit/core";

/** A draw keyed by (seed, stream, index): the same coordinates always give the same u32. */
export function draw(seed: number, stream: number, index: number): number {
  return mix32(mix32(mix32(seed ^ 0x5eed) ^ stream) ^ index);
}
