import { describe, expect, it } from "vitest";
import { createMemoryChannelPair, rateLimited, TokenBucket } from "../../src/transport/index.js";

describe("token-bucket rate limiter", () => {
  it("holds a channel to the configured rate", async () => {
    const { source, target } = createMemoryChannelPair({ highWaterMark: 1 << 30 });
    const rate = 20 * 1024 * 1024; // 20 MiB/s
    const limited = rateLimited(source, new TokenBucket(rate, 64 * 1024));
    const drain = (async () => {
      for await (const _ of target.receive());
    })();
    const started = performance.now();
    for (let i = 0; i < 40; i++) await limited.send([new Uint8Array(256 * 1024)]); // 10 MiB
    const seconds = (performance.now() - started) / 1000;
    await limited.close();
    await drain;
    expect(seconds).toBeGreaterThan(0.45);
    expect(seconds).toBeLessThan(1.5);
    expect(limited.capabilities).toEqual(source.capabilities);
  });

  it("lets a burst through without waiting, and converts link speeds in bits", async () => {
    const b = TokenBucket.fromBitsPerSecond(10e9);
    expect(b.rate).toBe(1.25e9);
    const t = performance.now();
    await b.take(1024);
    expect(performance.now() - t).toBeLessThan(20);
  });

  it("refuses a nonsense rate", () => {
    expect(() => new TokenBucket(0)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
