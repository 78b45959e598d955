import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/index.js";
import { connect, hasReturnPath, listen, openRestore } from "../../src/transport/index.js";
import { guestRam, runSource, runTarget } from "./channel-conversation.js";

describe("file channel (save/restore)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mdevkit-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("saves and restores a VM; one-way, stated in its type and capabilities", async () => {
    const url = `file://${join(dir, "vm.save")}`;
    const ram = guestRam(1024);
    const source = await connect(url);
    expect(source.returnPath).toBeNull();
    expect(hasReturnPath(source)).toBe(false);
    expect(source.capabilities.returnPath).toBe(false);
    await runSource(source, ram);
    const got = await runTarget(openRestore(url), 1024);
    expect(Buffer.compare(got, ram)).toBe(0);
  });

  it("a truncated save file is refused at restore (END never arrives)", async () => {
    const path = join(dir, "cut.save");
    const source = await connect(`file://${path}`);
    await runSource(source, guestRam(256));
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.byteLength - 100));
    await expect(runTarget(openRestore(`file://${path}`), 256)).rejects.toBeInstanceOf(StreamError);
  });

  it("a missing save file or folder keeps the system's reason (ENOENT), not a bare EIO", async () => {
    await expect(
      runTarget(openRestore(`file://${join(dir, "none.save")}`), 256),
    ).rejects.toMatchObject({ name: "TransportError", code: "ENOENT" });
    await expect(connect(`file://${join(dir, "no-such-dir", "vm.save")}`)).rejects.toMatchObject({
      name: "TransportError",
      code: "ENOENT",
    });
  });

  it("file URLs are not listened on", async () => {
    await expect(listen(`file://${join(dir, "x")}`)).rejects.toMatchObject({ code: "EINVAL" });
  });
});
