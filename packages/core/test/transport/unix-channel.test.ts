import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
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

  it("a connection to a missing socket is ENOENT, to one nobody listens on ECONNREFUSED", async () => {
    await expect(connect(`unix://${join(dir, "missing.sock")}`)).rejects.toMatchObject({
      name: "TransportError",
      code: "ENOENT",
    });
    // A socket file left behind by a listener that crashed (a clean close unlinks it).
    const path = join(dir, "left.sock");
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(lstatSync(path).isSocket()).toBe(true);
    await expect(connect(`unix://${path}`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("refuses to listen over a regular file or a directory, and leaves it alone", async () => {
    const file = join(dir, "precious.txt");
    writeFileSync(file, "keep me");
    await expect(listen(`unix://${file}`)).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(file, "utf8")).toBe("keep me");
    const sub = join(dir, "sub");
    mkdirSync(sub);
    await expect(listen(`unix://${sub}`)).rejects.toMatchObject({ code: "EEXIST" });
    expect(existsSync(sub)).toBe(true);
  });

  it("replaces a stale socket but not one another process listens on", async () => {
    const path = join(dir, "c.sock");
    const other = createServer();
    await new Promise<void>((r) => other.listen(path, r));
    await expect(listen(`unix://${path}`)).rejects.toMatchObject({ code: "EADDRINUSE" });
    await new Promise<void>((r) => other.close(() => r()));
    // A crashed listener leaves its socket file behind (a clean close unlinks it).
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const listener = await listen(`unix://${path}`);
    await listener.close();
  });
});
