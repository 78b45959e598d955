// The memory budget is enforced before allocation on both receive paths: a HANDSHAKE (or a
// save) claiming more guest RAM than the target hosts is refused, and the source is told.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  GuestMemory,
  MigrationTarget,
  openRestore,
  StreamEncoder,
} from "../../../src/index.js";

/** Header + HANDSHAKE for a device-less VM of `memoryMiB`: what a hostile peer can send. */
function handshakeFrames(memoryMiB: number): Uint8Array[] {
  const config = new TextEncoder().encode(JSON.stringify({ name: "big", memoryMiB }));
  return new StreamEncoder().start({ config, devices: [] });
}

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("memory budget", () => {
  it("a HANDSHAKE over the budget is answered REJECT and allocates no guest RAM", async () => {
    const allocations = vi.spyOn(GuestMemory, "create");
    const { source, target } = createMemoryChannelPair();
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      maxMemoryMiB: 64,
    }).receive();
    received.catch(() => {});
    await source.send(handshakeFrames(2048));
    const answer = await source.returnPath?.next();
    expect(answer).toMatchObject({
      type: "REJECT",
      reason: expect.stringMatching(/2048 MiB .* memory budget is 64 MiB/),
    });
    await expect(received).rejects.toMatchObject({ code: "ENOMEM" });
    expect(allocations).not.toHaveBeenCalled();
  });

  it("a VM of another size than the preallocated RAM is refused (EINVAL) without allocating", async () => {
    const preallocated = GuestMemory.create({ size: 4 * 2 ** 20 });
    const allocations = vi.spyOn(GuestMemory, "create");
    const { source, target } = createMemoryChannelPair();
    const received = new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
      preallocated,
    }).receive();
    received.catch(() => {});
    await source.send(handshakeFrames(8));
    expect(await source.returnPath?.next()).toMatchObject({
      type: "REJECT",
      reason: expect.stringMatching(/8 MiB of RAM; this target is prepared for 4 MiB/),
    });
    await expect(received).rejects.toMatchObject({ code: "EINVAL" });
    expect(allocations).not.toHaveBeenCalled();
  });

  it("a save claiming more than the budget fails the restore before allocating", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mdevkit-budget-"));
    dirs.push(dir);
    const file = join(dir, "big.save");
    writeFileSync(file, Buffer.concat(handshakeFrames(2048)));
    const allocations = vi.spyOn(GuestMemory, "create");
    const restore = new MigrationTarget(
      createHost({ name: "dst", plugins: [] }),
      openRestore(`file://${file}`),
      { maxMemoryMiB: 1024 },
    );
    await expect(restore.receive()).rejects.toMatchObject({
      code: "ENOMEM",
      message: expect.stringMatching(/2048 MiB .* memory budget is 1024 MiB/),
    });
    expect(allocations).not.toHaveBeenCalled();
  });

  it("a shared capacity and its own budget or preallocation are contradictory (EINVAL)", async () => {
    const { TargetCapacity } = await import("../../../src/index.js");
    const { target } = createMemoryChannelPair();
    expect(
      () =>
        new MigrationTarget(createHost({ name: "dst", plugins: [] }), target, {
          capacity: new TargetCapacity({ maxMemoryMiB: 8 }),
          maxMemoryMiB: 8,
        }),
    ).toThrow(/EINVAL/);
  });
});
