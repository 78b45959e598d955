// timeoutMs bounds the whole migration: it fires wherever the source is waiting, and
// rolls the VM back like any failure before GO.
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryChannelPair, MigrationSource, type SimulatedVm } from "../../src/index.js";
import { startVm, toyHost } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

describe("migration timeout", () => {
  it("a target that never answers the handshake fails the migration at timeoutMs, rolled back", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms);
    // Nobody reads the target end: the handshake goes out, ACCEPT never comes.
    const { source } = createMemoryChannelPair();
    await expect(
      new MigrationSource(vm, source, { timeoutMs: 200, peerTimeoutMs: 60_000 }, host).migrate(),
    ).rejects.toMatchObject({
      code: "ETIMEDOUT",
      phase: "handshake",
      rolledBack: true,
      message: expect.stringContaining("migration exceeded its 200 ms limit"),
    });
    expect(vm.running).toBe(true);
  });
});
