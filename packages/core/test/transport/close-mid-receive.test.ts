// A target closes its channel while its receive loop still holds the iterator: the engine
// does so after GO, with the record that ended the session still being handled. The close
// waits for the source's FIN, which only a read can see; the loop had stopped reading, so
// every completed migration over a socket kept the target waiting out the close's 5 s
// fallback before `listen --once` printed its result (and a listener's session stayed open
// as long).
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StreamDecoder, StreamEncoder } from "../../src/stream/index.js";
import {
  type ChannelListener,
  type ChannelOptions,
  connect,
  hasReturnPath,
  listen,
  type SourceChannel,
  type TargetChannel,
} from "../../src/transport/index.js";

const key = randomBytes(32);
const psk: ChannelOptions = { tls: { mode: "psk", identity: "mdevkit", key } };

const open: ChannelListener[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

/** A source that sends a header, waits for one answer, then closes, as after RESUMED. */
async function sourceSide(source: SourceChannel): Promise<void> {
  const enc = new StreamEncoder();
  await source.send(enc.start({ config: new TextEncoder().encode("{}"), devices: [] }));
  if (!hasReturnPath(source)) throw new Error("no return path");
  await source.returnPath.next();
  await source.close();
}

/**
 * A target that reads until the first record, answers, and closes the channel from inside
 * its receive loop, as the engine's handler of GO does. Returns how long the close took.
 */
async function targetSide(target: TargetChannel): Promise<number> {
  const decoder = new StreamDecoder();
  for await (const chunk of target.receive()) {
    for (const _ of decoder.push(chunk)) {
      if (!hasReturnPath(target) || decoder.header === undefined) throw new Error("no answer");
      await target.returnPath.start(decoder.header.configDigest);
      await target.returnPath.send({ type: "ACCEPT" });
      const t0 = performance.now();
      await target.close();
      return performance.now() - t0;
    }
  }
  throw new Error("stream ended before its first record");
}

async function closeTime(url: string, options: ChannelOptions = {}): Promise<number> {
  const listener = await listen(url, options);
  open.push(listener);
  const accepted = listener.accept();
  const source = await connect(listener.url, options);
  const [, ms] = await Promise.all([sourceSide(source), accepted.then(targetSide)]);
  return ms;
}

// The fallback cuts the connection after 5 s; a graceful close on one machine takes
// milliseconds. Half the fallback tells the two apart on any load.
const GRACEFUL_MS = 2500;

describe("closing a target channel from inside its receive loop", { timeout: 30_000 }, () => {
  it("TCP (one reused read buffer): closes as soon as the source has", async () => {
    expect(await closeTime("tcp://127.0.0.1:0")).toBeLessThan(GRACEFUL_MS);
  });

  it("UNIX socket: closes as soon as the source has", async () => {
    const path = join(tmpdir(), `mdevkit-close-${process.pid}-${Date.now()}.sock`);
    expect(await closeTime(`unix://${path}`)).toBeLessThan(GRACEFUL_MS);
  });

  it("TLS (the stream's own reads): closes as soon as the source has", async () => {
    expect(await closeTime("tls://127.0.0.1:0", psk)).toBeLessThan(GRACEFUL_MS);
  });
});
