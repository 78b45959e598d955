/**
 * Counter-based randomness: every draw is a pure function of its coordinates (seed,
 * stream, tick, index), so a vGPU resumed on the target draws exactly what the source
 * would have drawn next without any generator state crossing the wire.
 */
import { mix32 } from "@mdevkit/core";

/** A draw in `[0, 2^32)` keyed by `seed`, a `stream` id and two coordinates. */
export function draw(seed: number, stream: number, a: number, b = 0): number {
  return mix32(mix32(mix32(mix32(seed ^ stream) ^ a) ^ b) + 0x9e3779b9);
}

/** Streams of {@link draw}, one per decision the simulated guest or GPU makes. */
export const Stream = {
  DURATION: 0x6475,
  RENDER_PAGE: 0x7267,
  GGTT_INDEX: 0x6769,
  GGTT_GFN: 0x6767,
  GGTT_SPLIT: 0x6773,
  PPGTT_LEAF: 0x706c,
  PPGTT_GFN: 0x7067,
  MASK: 0x6d6b,
} as const;

/** FNV-1a over bytes: a cheap digest for descriptions (not a wire checksum). */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}
