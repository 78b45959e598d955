// Before a connection's HANDSHAKE was judged it costs `mdevkit listen` a small, bounded
// buffer: a record the stream does not allow yet is refused from its frame header, and the
// HANDSHAKEs of all connections together are held to one budget.
import { FRAME_HEADER_LENGTH, RecordType } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupListeners,
  handshakeBytes,
  nthEvent,
  type RawPeer,
  rawPeer,
  startListener,
  statusMiB,
} from "./listen-helpers.js";

afterEach(cleanupListeners, 60_000);

/** The largest RAM_PAGES payload the default limits allow (8 MiB + 64 KiB). */
const MAX_RECORD = 8 * 1024 * 1024 + 64 * 1024;
/** The largest HANDSHAKE payload the default limits allow. */
const MAX_HANDSHAKE = 5_292_422;

/** A valid stream header (that of a small VM's stream), then a frame header of `type`. */
function opening(type: number, length: number): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_LENGTH);
  head.writeUInt16LE(type, 0);
  head.writeUInt32LE(0, 4);
  head.writeUInt32LE(length, 8);
  return Buffer.concat([handshakeBytes(8).subarray(0, 52), head]);
}

async function peers(port: number, n: number): Promise<RawPeer[]> {
  const all: RawPeer[] = [];
  for (let i = 0; i < n; i++) all.push(await rawPeer(port));
  return all;
}

describe("listen before the handshake", { timeout: 180_000 }, () => {
  it("drops a connection whose record 0 is a RAM_PAGES at its frame header, before any payload", async () => {
    // A deadline far beyond the test: only the frame header can end these connections.
    const target = await startListener(["--handshake-timeout", "600000"]);
    const hostile = await peers(target.port, 32);
    for (const p of hostile) p.socket.write(opening(RecordType.RAM_PAGES, MAX_RECORD));
    const last = await nthEvent(target.child, "dropped", hostile.length, 30_000);
    expect(last).toMatchObject({
      code: "EPROTO",
      message: expect.stringMatching(/RAM_PAGES at offset 52 breaks rule "order"/),
    });
    await Promise.all(hostile.map((p) => p.closed));
    expect(target.child.process.exitCode).toBeNull();
  });

  it("holds all connections' unfinished HANDSHAKEs to one budget: the rest are dropped (EBUSY) at their frame header", async () => {
    const target = await startListener(["--handshake-timeout", "600000"]);
    const pid = target.child.process.pid as number;
    const before = statusMiB(pid, "VmRSS");
    const n = 40;
    // The listener's 16 MiB handshake budget holds three of them.
    const fits = 3;
    const hostile = await peers(target.port, n);
    // Each declares the largest HANDSHAKE and sends all of it but its last byte.
    const body = Buffer.alloc(MAX_HANDSHAKE - 1, 0x41);
    for (const p of hostile) {
      p.socket.write(opening(RecordType.HANDSHAKE, MAX_HANDSHAKE));
      p.socket.write(body);
    }
    const last = await nthEvent(target.child, "dropped", n - fits, 60_000);
    expect(last).toMatchObject({
      code: "EBUSY",
      message: expect.stringMatching(/HANDSHAKE of 5292422 bytes does not fit/),
    });
    let closed = 0;
    for (const p of hostile) void p.closed.then(() => closed++);
    const open = (): number => n - closed;
    for (let i = 0; i < 500 && open() > fits; i++) await new Promise((r) => setTimeout(r, 20));
    expect(open()).toBe(fits);
    // Unbounded, the 40 HANDSHAKEs alone would take 200 MiB.
    expect(statusMiB(pid, "VmRSS") - before).toBeLessThan(120);
  });
});
