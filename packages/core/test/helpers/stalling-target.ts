import { type RecordTypeName, ReturnPathEncoder, StreamDecoder } from "../../src/index.js";
import { serveOnLoopback } from "./loopback-server.js";

/** What a {@link stallingTarget} does once the chosen record arrives. */
export type StallMode = "stop-reading" | "fail-then-stop-reading";

/** A fake target on a loopback TCP port. */
export interface StallingTarget {
  /** Where to migrate to. */
  readonly url: string;
  /** Resolves once the target stopped reading. */
  readonly stalled: Promise<void>;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/**
 * A target that answers like a healthy one (ACCEPT, SWITCHOVER_ACK at once, each ITERATION
 * acknowledged as it arrives) until record `at` arrives, then stops reading for good —
 * optionally saying FAILED first. The socket stays open, so a source writing to it fills the kernel's buffers and blocks: the stall
 * a SIGSTOPped target or a hung host produces.
 */
export async function stallingTarget(
  mode: StallMode,
  at: RecordTypeName = "PRECOPY_END",
): Promise<StallingTarget> {
  let onStall = (): void => {};
  const stalled = new Promise<void>((resolve) => {
    onStall = resolve;
  });
  const server = await serveOnLoopback((socket) => {
    const decoder = new StreamDecoder({ guestPages: 1 << 20 });
    const answers = new ReturnPathEncoder();
    const onData = (chunk: Buffer): void => {
      try {
        for (const r of decoder.push(chunk)) {
          if (r.type === "HANDSHAKE") {
            socket.write(answers.start(decoder.header?.configDigest ?? new Uint8Array(32)));
            socket.write(answers.message({ type: "ACCEPT" }));
            socket.write(answers.message({ type: "SWITCHOVER_ACK" }));
          }
          if (r.type === "ITERATION")
            socket.write(answers.message({ type: "ITERATION_ACK", iteration: r.iteration }));
          if (r.type === at) {
            if (mode === "fail-then-stop-reading")
              socket.write(answers.message({ type: "FAILED", reason: "injected: then stalled" }));
            socket.off("data", onData);
            socket.pause();
            onStall();
            return;
          }
        }
      } catch {
        socket.destroy();
      }
    };
    socket.on("data", onData);
  });
  return { url: server.url, stalled, close: () => server.close() };
}
