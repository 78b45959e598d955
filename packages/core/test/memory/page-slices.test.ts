// Work over a whole guest's RAM lets the event loop run between slices, and stops when asked.
import { describe, expect, it } from "vitest";
import { inPageSlices, MdevError } from "../../src/index.js";

/** Busy-waits `ms`: a slice of page work as the event loop sees it. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("inPageSlices", () => {
  it("covers every page once, in order, and lets timers run between slices", async () => {
    const seen: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await inPageSlices(
        20_000,
        (first, count) => {
          for (let p = first; p < first + count; p++) seen.push(p);
          busy(count / 1000);
        },
        { sliceMs: 5 },
      );
    } finally {
      clearInterval(timer);
    }
    expect(seen).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    // 20 ms of work in slices of about 5 ms: the timer ran between them.
    expect(ticks).toBeGreaterThan(0);
  });

  it("stops with the error `stop` gives, before the next slice", async () => {
    let done = 0;
    const reason = new MdevError("ECONNRESET", "the peer left");
    const run = inPageSlices(
      1_000_000,
      (_first, count) => {
        done += count;
      },
      { stop: () => (done > 0 ? reason : undefined) },
    );
    await expect(run).rejects.toBe(reason);
    expect(done).toBe(256);
  });
});
