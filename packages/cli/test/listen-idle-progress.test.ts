// `listen --idle-timeout` counts progress, not bytes: a peer that handshook and then trickles
// a byte at a time is dropped within the timeout and the loading slot is free for the next
// migration; a source capped to a slow link is not dropped.
import { PAGE_SIZE, StreamEncoder } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupListeners,
  handshakeBytes,
  migrateSmallVm,
  migrateSmallVmArgs,
  nthEvent,
  rawPeer,
  receivedAtLeast,
  spawnChild,
  startListener,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

describe("listen --idle-timeout", { timeout: 180_000 }, () => {
  it("drops a source that trickles a byte at a time, and the next migration arrives", async () => {
    const target = await startListener(["--idle-timeout", "2000"]);
    const hostile = await rawPeer(target.port);
    hostile.socket.write(handshakeBytes(8));
    // The VM is built and ACCEPTed (return-path header + ACCEPT): the slot is taken.
    await receivedAtLeast(hostile, 40);
    // Then a valid RAM_PAGES record (record 1, one page), a byte every 200 ms.
    const encoder = new StreamEncoder();
    encoder.start({ config: new Uint8Array(2), devices: [] });
    const record = Buffer.concat(encoder.ramPages(0, [new Uint8Array(PAGE_SIZE).fill(7)]));
    let closed = false;
    void hostile.closed.then(() => {
      closed = true;
    });
    const trickle = (async () => {
      for (let i = 0; !closed && i < record.length; i++) {
        hostile.socket.write(record.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const dropped = await nthEvent(target.child, "error", 1, 60_000);
    expect(dropped).toMatchObject({
      code: "ETIMEDOUT",
      message: expect.stringMatching(/less than 1 MiB more of the VM's state .* within 2000 ms/),
    });
    await hostile.closed;
    await trickle;
    await migrateSmallVm(target.url);
    expect(target.child.process.exitCode).toBeNull();
  });

  it("does not drop a source capped to a slow link whose migration outlasts the timeout", async () => {
    const target = await startListener(["--once", "--idle-timeout", "3000"]);
    // The dirtying 16 MiB VM at 4 MB/s: several timeouts long, in batches of 1-5 MiB that
    // each wait their size over the rate (at most 1.3 s) before they go.
    const source = spawnChild([...migrateSmallVmArgs(target.url), "--max-bandwidth", "4MB/s"]);
    const code = await source.exited;
    expect(code, source.events.map((e) => JSON.stringify(e)).join("\n")).toBe(0);
    expect(await target.child.exited).toBe(0);
    expect(target.child.events.some((e) => e.event === "result")).toBe(true);
  });
});
