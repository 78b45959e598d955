import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, listen } from "../../src/transport/index.js";
import type { SocketTargetChannel } from "../../src/transport/socket-channel.js";

// The target reads a migration into one reused buffer (Node's user-buffer reads, found by
// feature test) because a fresh Buffer per read cost most of its CPU: page faults on new
// memory and the collector's work. These tests fail when a Node update takes the switch
// away (the target would silently be slow again) or when reuse corrupts what is read.

describe("target reads into one reused buffer", () => {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-reuse-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const url of ["tcp://127.0.0.1:0", `unix://${join(dir, "r.sock")}`]) {
    it(`${url.split(":")[0]}: every chunk is a view of the same buffer, and the bytes arrive intact`, async () => {
      const listener = await listen(url);
      const accepted = listener.accept();
      const source = await connect(listener.url);
      const target = (await accepted) as SocketTargetChannel;
      expect(target.reusesReadBuffer).toBe(true);
      const payload = randomBytes(8 * 2 ** 20);
      const sending = source.send([payload.subarray(0, 2 ** 22), payload.subarray(2 ** 22)]);
      const got = Buffer.alloc(payload.length);
      const buffers = new Set<ArrayBufferLike>();
      let at = 0;
      for await (const c of target.receive()) {
        buffers.add(c.buffer);
        // The consumer may await between chunks: the chunk must not change meanwhile.
        const before = Buffer.from(c);
        await new Promise((r) => setTimeout(r, 1));
        expect(Buffer.compare(before, c)).toBe(0);
        got.set(c, at);
        at += c.byteLength;
        if (at >= payload.length) break;
      }
      await sending;
      expect(Buffer.compare(got, payload)).toBe(0);
      expect(buffers.size).toBe(1);
      // Stopping early still lets the socket see the peer's close, so the listener closes.
      source.destroy();
      await listener.close();
    });
  }

  it("ends when the peer ends", async () => {
    const listener = await listen("tcp://127.0.0.1:0");
    const accepted = listener.accept();
    const source = await connect(listener.url);
    const target = await accepted;
    await source.send([new Uint8Array([1, 2, 3])]);
    // The source's close waits for the target to see the end, which it does as it reads.
    const closing = source.close();
    const chunks: number[] = [];
    for await (const c of target.receive()) chunks.push(...c);
    expect(chunks).toEqual([1, 2, 3]);
    await closing;
    target.destroy();
    await listener.close();
  });
});
