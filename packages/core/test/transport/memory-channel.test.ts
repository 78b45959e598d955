import { describe, expect, it } from "vitest";
import { createMemoryChannelPair, hasReturnPath } from "../../src/transport/index.js";
import { guestRam, runSource, runTarget } from "./channel-conversation.js";

describe("in-memory channel pair", () => {
  it("carries a migration and its return-path answers", async () => {
    const { source, target } = createMemoryChannelPair({ highWaterMark: 256 * 1024 });
    expect(hasReturnPath(source) && hasReturnPath(target)).toBe(true);
    const ram = guestRam(1024);
    const [, got] = await Promise.all([runSource(source, ram), runTarget(target, 1024)]);
    expect(Buffer.from(got).equals(Buffer.from(ram))).toBe(true);
  });

  it("applies backpressure: send waits while more than the high-water mark is in flight", async () => {
    const { source, target } = createMemoryChannelPair({ highWaterMark: 1024 });
    let resolved = false;
    const p = source.send([new Uint8Array(4096)]).then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    const it = target.receive()[Symbol.asyncIterator]();
    expect((await it.next()).value?.byteLength).toBe(4096);
    await p;
    expect(resolved).toBe(true);
  });
});
