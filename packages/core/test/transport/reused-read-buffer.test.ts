import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ChannelOptions,
  connect,
  listen,
  type SourceChannel,
} from "../../src/transport/index.js";
import { reusedBufferReads } from "../../src/transport/reused-read-buffer.js";
import type { SocketTargetChannel } from "../../src/transport/socket-channel.js";

// The target reads a migration into one reused buffer (Node's user-buffer reads, found by
// feature test) because a fresh Buffer per read cost most of its CPU: page faults on new
// memory and the collector's work. These tests fail when a Node update takes the switch
// away (the target would silently be slow again) or when reuse corrupts what is read.
// A TLS socket decrypts record by record (16 KiB) into a fresh Buffer each unless read the
// same way: a 2 GiB migration over TLS took 2.0-3.3 s against 1.1-1.5 s since.

const key = randomBytes(32);
const psk: ChannelOptions = { tls: { mode: "psk", identity: "mdevkit", key } };

/**
 * Sends 8 MiB in two frames and reads it back, the consumer awaiting between chunks:
 * returns the distinct buffers the chunks were views of and how many chunks came.
 */
async function roundTrip(
  source: SourceChannel,
  target: SocketTargetChannel,
): Promise<{ buffers: number; chunks: number }> {
  const payload = randomBytes(8 * 2 ** 20);
  const sending = source.send([payload.subarray(0, 2 ** 22), payload.subarray(2 ** 22)]);
  const got = Buffer.alloc(payload.length);
  const buffers = new Set<ArrayBufferLike>();
  let at = 0;
  let chunks = 0;
  for await (const c of target.receive()) {
    buffers.add(c.buffer);
    chunks++;
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
  return { buffers: buffers.size, chunks };
}

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
      expect((await roundTrip(source, target)).buffers).toBe(1);
      // Stopping early still lets the socket see the peer's close, so the listener closes.
      source.destroy();
      await listener.close();
    });
  }

  it("tls: records gather into two alternating buffers, and the bytes arrive intact", async () => {
    const listener = await listen("tls://127.0.0.1:0", psk);
    const accepted = listener.accept();
    const source = await connect(listener.url, psk);
    const target = (await accepted) as SocketTargetChannel;
    expect(target.reusesReadBuffer).toBe(true);
    const { buffers, chunks } = await roundTrip(source, target);
    expect(buffers).toBe(2);
    // 512 records of 16 KiB: the consumer, awaiting 1 ms per chunk, gets them in bulk.
    expect(chunks).toBeLessThan(128);
    source.destroy();
    await listener.close();
  });

  it("tls: records decrypted after reading paused are kept, in order", async () => {
    // A buffer smaller than a record: reading pauses after every record, yet the handle
    // hands over every record it has decrypted from what it already read.
    const tlsOptions = { ciphers: "PSK-AES128-GCM-SHA256", maxVersion: "TLSv1.2" } as const;
    const server = createServer({ ...tlsOptions, pskCallback: () => key });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const accepted = once(server, "secureConnection");
    const client = tlsConnect({
      ...tlsOptions,
      port,
      host: "127.0.0.1",
      pskCallback: () => ({ psk: key, identity: "x" }),
      checkServerIdentity: () => undefined,
    });
    const [socket] = (await accepted) as [TLSSocket];
    const reads = reusedBufferReads(socket, "test", 4096);
    if (reads === undefined) throw new Error("no user-buffer reads on this Node");
    const payload = randomBytes(2 ** 20);
    client.end(payload);
    const got: Buffer[] = [];
    let grown = false;
    for await (const c of reads) {
      if (c.byteLength > 4096) grown = true;
      got.push(Buffer.from(c));
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.compare(Buffer.concat(got), payload)).toBe(0);
    expect(grown).toBe(true);
    socket.destroy();
    server.close();
  });

  for (const [url, options] of [
    ["tcp://127.0.0.1:0", {}],
    ["tls://127.0.0.1:0", psk],
  ] as const) {
    it(`${url.split(":")[0]}: ends when the peer ends`, async () => {
      const listener = await listen(url, options);
      const accepted = listener.accept();
      const source = await connect(listener.url, options);
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
  }
});

// The target tells the channel how many bytes its decoder still needs (SO_RCVLOWAT on TCP,
// see low-water-mark.test.ts): whatever the mark, the end of the stream must still be seen.
describe("a TCP target told to expect more than comes", () => {
  it("still sees the end of the stream", async () => {
    const listener = await listen("tcp://127.0.0.1:0");
    const accepted = listener.accept();
    const source = await connect(listener.url);
    const target = (await accepted) as SocketTargetChannel;
    await source.send([new Uint8Array(1000).fill(7)]);
    const chunks = target.receive()[Symbol.asyncIterator]();
    let received = ((await chunks.next()).value as Uint8Array).byteLength;
    // Two reads close together give the mark a rate, so it holds for real.
    await source.send([new Uint8Array(1000).fill(8)]);
    received += ((await chunks.next()).value as Uint8Array).byteLength;
    target.expect(1 << 20);
    await source.send([new Uint8Array(10).fill(9)]);
    const closing = source.close();
    for (let r = await chunks.next(); !r.done; r = await chunks.next())
      received += r.value.byteLength;
    expect(received).toBe(2010);
    await closing;
    target.destroy();
    await listener.close();
  });
});
