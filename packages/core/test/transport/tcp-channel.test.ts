import { afterEach, describe, expect, it } from "vitest";
import { type ChannelListener, connect, listen, listenTcp } from "../../src/transport/index.js";
import { guestRam, runSource, runTarget } from "./channel-conversation.js";
import { checkBackpressure } from "./socket-backpressure.js";

describe("TCP channel", () => {
  let listener: ChannelListener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it("listens on 127.0.0.1 by default, on a free port when asked for 0", async () => {
    listener = await listenTcp();
    expect(listener.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(listener.url).not.toMatch(/:0$/);
  });

  it("carries a migration one way and the answers the other", async () => {
    listener = await listen("tcp://127.0.0.1:0");
    const ram = guestRam(2048);
    const accepted = listener.accept();
    const source = await connect(listener.url);
    expect(source.capabilities).toMatchObject({ kind: "tcp", returnPath: true });
    const [, got] = await Promise.all([
      runSource(source, ram),
      accepted.then((t) => runTarget(t, 2048)),
    ]);
    expect(Buffer.compare(got, ram)).toBe(0);
  });

  it("honours backpressure with a 64 MiB payload", async () => {
    listener = await listenTcp();
    const accepted = listener.accept();
    const source = await connect(listener.url);
    const target = await accepted;
    await checkBackpressure(source, target);
    source.destroy();
    target.destroy();
  });

  it("a port another listener holds is EADDRINUSE", async () => {
    listener = await listenTcp();
    const port = Number(listener.url.split(":").pop());
    await expect(listenTcp(port)).rejects.toMatchObject({
      name: "TransportError",
      code: "EADDRINUSE",
    });
  });

  it("a refused connection is a typed TransportError that says so (ECONNREFUSED)", async () => {
    const l = await listenTcp();
    const url = l.url;
    await l.close();
    // Not ECONNRESET: nothing was ever connected, so a script can tell "nobody listens
    // there" from "the target went away".
    await expect(connect(url)).rejects.toMatchObject({
      name: "TransportError",
      code: "ECONNREFUSED",
    });
  });
});
