// inspect promises "every record and digest checked": END's RAM digest included, so a file
// whose pages and digest disagree (CRCs recomputed, so every frame is well-formed) fails
// inspect exactly as it fails restore.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PageDigestTable, StreamEncoder } from "@mdevkit/core";
import { afterAll, describe, expect, it } from "vitest";
import { MDEVKIT_BIN } from "../src/child.js";

const dir = mkdtempSync(join(tmpdir(), "mdevkit-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A one-page save of a 1 MiB VM whose END carries `digest` (the right one by default). */
function save(name: string, digest?: Uint8Array): string {
  const page = new Uint8Array(4096).fill(7);
  const table = new PageDigestTable(256);
  table.data(0, page);
  const enc = new StreamEncoder();
  const frames = [
    ...enc.start({ config: new TextEncoder().encode('{"memoryMiB":1}'), devices: [] }),
    ...enc.ramPages(0, [page]),
    ...enc.precopyEnd(),
    ...enc.end(digest ?? table.digest()),
  ];
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(frames));
  return path;
}

function inspect(path: string) {
  return spawnSync(process.execPath, [MDEVKIT_BIN, "inspect", path], { encoding: "utf8" });
}

describe("inspect checks END's RAM digest", () => {
  it("passes a file whose pages match the digest", () => {
    const run = inspect(save("good.mdevkit"));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/every record and digest checked/);
  });

  it("refuses a file whose digest does not match its pages, in one line", () => {
    const run = inspect(save("bad.mdevkit", new Uint8Array(32)));
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      "mdevkit: EBADMSG: guest RAM digest does not match END: pages were lost or damaged",
    ]);
  });
});
