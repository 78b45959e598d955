// The proxy itself, against core's real encoder and decoder: each wire fault does to the
// stream exactly what it says, at the unit its trigger names, and nothing else.
import { once } from "node:events";
import { connect, createServer, type Server } from "node:net";
import { MdevError, StreamDecoder, StreamEncoder } from "@mdevkit/core";
import { afterEach, describe, expect, it } from "vitest";
import { FaultProxy, type WireFault } from "../src/fault-proxy.js";

const GUEST_PAGES = 64;

/** A small valid forward stream: HANDSHAKE, three RAM runs, ITERATION, PRECOPY_END, END. */
function sampleStream(): Uint8Array[] {
  const enc = new StreamEncoder();
  const page = (fill: number): Uint8Array => new Uint8Array(4096).fill(fill);
  const parts = [
    ...enc.start({ config: new TextEncoder().encode('{"name":"p"}'), devices: [] }),
    ...enc.ramPages(0, [page(1), null, page(2)]),
    ...enc.ramPages(3, [page(3)]),
    ...enc.iteration({
      iteration: 0,
      dataPages: 3,
      zeroPages: 1,
      deviceBytes: 0,
      dirtyPages: 1,
      durationUs: 5,
    }),
    ...enc.precopyEnd(),
    ...enc.ramPages(3, [page(4)]),
    ...enc.end(new Uint8Array(32)),
  ];
  // The encoder's views may share memory it reuses: keep copies.
  return parts.map((p) => new Uint8Array(p));
}

/** What a decoding receiver saw: record types in order, and the error that stopped it. */
interface Received {
  readonly types: string[];
  readonly error?: string;
  readonly bytes: number;
}

const servers: Server[] = [];
const proxies: FaultProxy[] = [];

afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  for (const s of servers.splice(0)) s.close();
});

/** A receiver that decodes what arrives until the peer closes. */
async function receiver(): Promise<{
  url: string;
  received: Promise<Received>;
  live: string[];
}> {
  const server = createServer();
  servers.push(server);
  const types: string[] = [];
  const received = new Promise<Received>((resolve) => {
    server.once("connection", (socket) => {
      const decoder = new StreamDecoder({ guestPages: GUEST_PAGES });
      let error: string | undefined;
      let bytes = 0;
      socket.on("data", (chunk: Buffer) => {
        bytes += chunk.byteLength;
        if (error !== undefined) return;
        try {
          for (const r of decoder.push(chunk)) types.push(r.type);
        } catch (err) {
          error = (err as MdevError).code;
        }
      });
      socket.on("error", () => {});
      socket.on("close", () => resolve({ types, bytes, ...(error ? { error } : {}) }));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  return { url: `tcp://127.0.0.1:${port}`, received, live: types };
}

/** Sends the sample stream through a proxy injecting `fault`; returns what arrived. */
async function through(
  fault: WireFault,
  beforeEnd?: (p: FaultProxy, live: readonly string[]) => Promise<void>,
) {
  const sink = await receiver();
  const proxy = await FaultProxy.start(sink.url, fault);
  proxies.push(proxy);
  const port = Number(new URL(proxy.url).port);
  const client = connect({ host: "127.0.0.1", port });
  client.on("error", () => {});
  await once(client, "connect");
  for (const part of sampleStream()) client.write(part);
  if (beforeEnd) await beforeEnd(proxy, sink.live);
  client.end();
  return { proxy, received: await sink.received };
}

const ALL = ["HANDSHAKE", "RAM_PAGES", "RAM_PAGES", "ITERATION", "PRECOPY_END", "RAM_PAGES", "END"];
const ITERATION = { lane: "forward", type: "ITERATION", occurrence: 0 } as const;

describe("FaultProxy", () => {
  it("passes an untouched stream through whole, logging each unit", async () => {
    const { proxy, received } = await through({
      kind: "observe",
      trigger: { lane: "forward", type: "END", occurrence: 0 },
    });
    expect(received).toEqual({ types: ALL, bytes: expect.any(Number) });
    expect(proxy.units.forward).toEqual(["HEADER", ...ALL]);
    expect((await proxy.fired).unit).toMatchObject({ type: "END", lane: "forward", seq: 6 });
  });

  it("corrupt: one flipped bit, refused by the frame CRC at that record", async () => {
    const { received } = await through({ kind: "corrupt", trigger: ITERATION });
    expect(received.types).toEqual(ALL.slice(0, 3));
    expect(received.error).toBe("EBADMSG");
  });

  it("duplicate: the record arrives twice, refused as a sequence error", async () => {
    const { received } = await through({ kind: "duplicate", trigger: ITERATION });
    expect(received.types).toEqual(ALL.slice(0, 4));
    expect(received.error).toBe("EPROTO");
  });

  it("reorder: the next record overtakes it, refused as a sequence error", async () => {
    const { proxy, received } = await through({ kind: "reorder", trigger: ITERATION });
    expect(received.types).toEqual(ALL.slice(0, 3));
    expect(received.error).toBe("EPROTO");
    expect(await proxy.fired).toMatchObject({ swapped: true });
  });

  it("drop: the connection is cut at the record; nothing from it on arrives", async () => {
    const { received } = await through({ kind: "drop", trigger: ITERATION });
    expect(received.types).toEqual(ALL.slice(0, 3));
  });

  it("a byte-offset trigger fires on the unit holding that byte", async () => {
    const { proxy } = await through({
      kind: "observe",
      trigger: { lane: "forward", byteOffset: 52 + 10 },
    });
    expect((await proxy.fired).unit).toMatchObject({ type: "HANDSHAKE", offset: 52 });
  });

  it("stall: nothing from the trigger on arrives until released, then all of it does", async () => {
    let whileHeld: string[] = [];
    const { received } = await through(
      { kind: "stall", trigger: ITERATION },
      async (proxy, live) => {
        await proxy.fired;
        await new Promise((r) => setTimeout(r, 200));
        whileHeld = [...live];
        proxy.release();
      },
    );
    expect(whileHeld).not.toContain("ITERATION");
    expect(received.types).toEqual(ALL);
  });

  it("throttle: what follows the trigger trickles at the set rate, whole and in order", async () => {
    let firedAt = 0;
    let doneAt = 0;
    const { received } = await through(
      { kind: "throttle", trigger: ITERATION, trickleBytesPerSecond: 16 * 1024, trickleMs: 5000 },
      async (proxy) => {
        await proxy.fired;
        firedAt = performance.now();
      },
    );
    doneAt = performance.now();
    expect(received.types).toEqual(ALL);
    // ITERATION, PRECOPY_END, a one-page run and END are over 4 KiB: at 16 KiB/s that is
    // at least a quarter second (a lower bound, so a slow machine cannot break it).
    expect(doneAt - firedAt).toBeGreaterThanOrEqual(200);
  });
});
