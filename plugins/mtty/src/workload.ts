/**
 * The simulated far end of each serial cable: a deterministic byte source.
 *
 * Every draw is a pure function of (seed, port, sequence number) — a counter-based
 * generator, not a stateful PRNG — so the only thing to migrate is the port's
 * sequence number (`wireSeq`), and a target seeded like the source sends exactly the
 * bytes the source would have received next.
 */
import { mix32 } from "@mdevkit/core";

function draw(seed: number, port: number, seq: number, salt: number): number {
  return mix32(mix32(mix32(seed ^ salt) ^ port) ^ seq);
}

/** Most bytes one port receives in one tick. */
export const MAX_BYTES_PER_TICK = 3;

/**
 * How many bytes `port` receives in the tick that starts at sequence number `seq`
 * (1 to {@link MAX_BYTES_PER_TICK}): bursty enough to exercise FIFO trigger levels and
 * overrun, small enough that a guest reading every tick keeps up. Never 0: the draw is
 * keyed by `seq`, so an idle tick would not advance it and every later tick would be idle too.
 */
export function bytesThisTick(seed: number, port: number, seq: number): number {
  return 1 + (draw(seed, port, seq, 0x6c656e) % MAX_BYTES_PER_TICK);
}

/** The byte with sequence number `seq` on `port`: printable ASCII, so dumps stay readable. */
export function wireByte(seed: number, port: number, seq: number): number {
  return 0x20 + (draw(seed, port, seq, 0x627974) % 95);
}
