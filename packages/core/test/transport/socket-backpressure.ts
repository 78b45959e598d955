// Shared check: a large send over a real socket waits for the reader (drain), and arrives intact.
import { expect } from "vitest";
import type { SourceChannel, TargetChannel } from "../../src/transport/index.js";

/** Sends `size` bytes while the target holds off reading for a while; checks order of events. */
export async function checkBackpressure(
  source: SourceChannel,
  target: TargetChannel,
  size = 64 * 1024 * 1024,
): Promise<void> {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) payload[i] = (i >> 12) & 0xff;
  let sentAt = 0;
  const sending = source
    .send([payload.subarray(0, size / 2), payload.subarray(size / 2)])
    .then(() => {
      sentAt = performance.now();
    });
  await new Promise((r) => setTimeout(r, 150));
  // Kernel buffers hold a few MiB at most: the send must still be waiting for the reader.
  expect(sentAt).toBe(0);
  const readStart = performance.now();
  const got = new Uint8Array(size);
  let at = 0;
  for await (const c of target.receive()) {
    got.set(c, at);
    at += c.byteLength;
    if (at >= size) break;
  }
  await sending;
  expect(sentAt).toBeGreaterThanOrEqual(readStart);
  expect(Buffer.compare(got, payload)).toBe(0);
}
