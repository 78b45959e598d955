// A send blocked on a peer that stopped reading settles at once when its signal aborts or
// the channel is destroyed (#14 item 2): before, it waited for the write callback, a close
// or an error, none of which a stalled peer ever produces.
import { afterEach, describe, expect, it } from "vitest";
import { MdevError } from "../../src/errors/index.js";
import {
  type ChannelListener,
  connect,
  createMemoryChannelPair,
  listen,
  rateLimited,
  type SourceChannel,
  TokenBucket,
} from "../../src/transport/index.js";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
});

/** 32 MiB: far more than the kernel's socket buffers, so the send must wait for the reader. */
const BIG = [new Uint8Array(32 * 1024 * 1024).fill(1)];

/** A TCP source whose accepted peer never reads. */
async function stalledTcp(): Promise<SourceChannel> {
  const listener: ChannelListener = await listen("tcp://127.0.0.1:0");
  open.push(listener);
  const accepted = listener.accept();
  const source = await connect(listener.url);
  const target = await accepted;
  // Destroyed, not closed: a graceful close would wait for the peer that never reads.
  open.push({ close: async () => target.destroy() }, { close: async () => source.destroy() });
  return source;
}

/** Resolves with how the promise settled, so a pending one is visible. */
function state(p: Promise<unknown>): { settled: () => "pending" | "resolved" | "rejected" } {
  let s: "pending" | "resolved" | "rejected" = "pending";
  p.then(
    () => {
      s = "resolved";
    },
    () => {
      s = "rejected";
    },
  );
  return { settled: () => s };
}

const tick = (ms = 100): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("a send blocked on a stalled peer", { timeout: 30_000 }, () => {
  it("TCP: rejects with the signal's reason when the signal aborts, and the channel is gone", async () => {
    const source = await stalledTcp();
    const ctl = new AbortController();
    const sending = source.send(BIG, ctl.signal);
    const s = state(sending);
    await tick();
    expect(s.settled()).toBe("pending");
    const reason = new MdevError("ETIMEDOUT", "deadline");
    ctl.abort(reason);
    await expect(sending).rejects.toBe(reason);
    await expect(source.send([new Uint8Array(4)])).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("TCP: rejects when the channel is destroyed", async () => {
    const source = await stalledTcp();
    const sending = source.send(BIG);
    const s = state(sending);
    await tick();
    expect(s.settled()).toBe("pending");
    source.destroy();
    await expect(sending).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("TCP: an already aborted signal refuses the send and destroys the channel", async () => {
    const source = await stalledTcp();
    const ctl = new AbortController();
    ctl.abort(new MdevError("ECANCELED", "cancelled"));
    await expect(source.send([new Uint8Array(8)], ctl.signal)).rejects.toMatchObject({
      code: "ECANCELED",
    });
    await expect(source.send([new Uint8Array(8)])).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("TCP: a graceful close waiting on a peer that never reads settles when destroyed", async () => {
    const source = await stalledTcp();
    // Bytes the peer will never take: the FIN queues behind them.
    const sending = source.send(BIG).catch(() => undefined);
    const closing = source.close();
    const s = state(closing);
    await tick();
    expect(s.settled()).toBe("pending");
    source.destroy();
    await closing;
    await sending;
  });

  it("memory pair: an abort while the reader lags rejects, and destroy rejects too", async () => {
    for (const how of ["abort", "destroy"] as const) {
      const { source } = createMemoryChannelPair({ highWaterMark: 1024 });
      const ctl = new AbortController();
      const sending = source.send([new Uint8Array(4096)], ctl.signal);
      const s = state(sending);
      await tick(20);
      expect(s.settled()).toBe("pending");
      if (how === "abort") ctl.abort(new MdevError("ECANCELED", "cancelled"));
      else source.destroy();
      await expect(sending).rejects.toBeInstanceOf(Error);
    }
  });

  it("rate-limited: a send waiting for tokens ends on abort and on destroy", async () => {
    for (const how of ["abort", "destroy"] as const) {
      const { source: inner } = createMemoryChannelPair();
      // 1 KiB/s: a 64 KiB send waits about a minute for its tokens.
      const source = rateLimited(inner, new TokenBucket(1024, 1024));
      const ctl = new AbortController();
      const sending = source.send([new Uint8Array(64 * 1024)], ctl.signal);
      const s = state(sending);
      await tick(20);
      expect(s.settled()).toBe("pending");
      const reason = new MdevError("ECANCELED", "cancelled");
      if (how === "abort") ctl.abort(reason);
      else source.destroy();
      if (how === "abort") await expect(sending).rejects.toBe(reason);
      else await expect(sending).rejects.toMatchObject({ code: "ECONNRESET" });
    }
  });
});
