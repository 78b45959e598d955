import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, listen } from "../../src/transport/index.js";
import { guestRam, runSource, runTarget } from "./channel-conversation.js";
import { checkBackpressure } from "./socket-backpressure.js";

describe("UNIX socket channel", () => {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-unix-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("carries a migration and its answers", async () => {
    const listener = await listen(`unix://${join(dir, "a.sock")}`);
    const ram = guestRam(2048);
    const accepted = listener.accept();
    const source = await connect(listener.url);
    expect(source.capabilities.kind).toBe("unix");
    const [, got] = await Promise.all([
      runSource(source, ram),
      accepted.then((t) => runTarget(t, 2048)),
    ]);
    expect(Buffer.compare(got, ram)).toBe(0);
    await listener.close();
  });

  it("honours backpressure with a 64 MiB payload", async () => {
    const listener = await listen(`unix://${join(dir, "b.sock")}`);
    const accepted = listener.accept();
    const source = await connect(listener.url);
    await checkBackpressure(source, await accepted);
    source.destroy();
    await listener.close();
  });
});
