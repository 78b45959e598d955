import { describe, expect, it } from "vitest";
import { createMemoryChannelPair, rateLimited, TokenBucket } from "../../src/transport/index.js";

describe("token-bucket rate limiter", () => {
  it("holds a channel to the configured rate", async () => {
    const { source, target } = createMemoryChannelPair({ highWaterMark: 1 << 30 });
    const rate = 20 * 1024 * 1024; // 20 MiB/s
    // A 1 MiB burst (50 ms of the rate): a timer that fires late on a loaded machine is made
    // up by the next take instead of lengthening the run, so the upper bound below measures
    // the bucket, not the scheduler. The lower bound is the bucket's promise: at most the
    // burst plus the rate times the time.
    const limited = rateLimited(source, new TokenBucket(rate, 1024 * 1024));
    const drain = (async () => {
      for await (const _ of target.receive());
    })();
    const started = performance.now();
    for (let i = 0; i < 40; i++) await limited.send([new Uint8Array(256 * 1024)]); // 10 MiB
    const seconds = (performance.now() - started) / 1000;
    await limited.close();
    await drain;
    expect(seconds).toBeGreaterThan(0.44); // (10 MiB - 1 MiB) / 20 MiB/s = 0.45 s
    expect(seconds).toBeLessThan(1.5);
    expect(limited.capabilities).toEqual(source.capabilities);
  });

  it("lets a burst through without waiting, and converts link speeds in bits", async () => {
    const b = TokenBucket.fromBitsPerSecond(10e9);
    expect(b.rate).toBe(1.25e9);
    // Within the burst, the take settles before any timer could fire.
    const order: string[] = [];
    const timer = new Promise<void>((r) => setImmediate(r)).then(() => order.push("timer"));
    await b.take(1024).then(() => order.push("take"));
    await timer;
    expect(order).toEqual(["take", "timer"]);
  });

  it("refuses a nonsense rate", () => {
    expect(() => new TokenBucket(0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
