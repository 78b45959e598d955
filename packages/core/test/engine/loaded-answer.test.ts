// The source takes the target's device load times from LOADED, and refuses (before GO) a
// LOADED that does not account for every device: such a target never runs the VM.
import { afterEach, describe, expect, it } from "vitest";
import {
  createMemoryChannelPair,
  MigrationSource,
  MigState,
  type ReturnMessage,
  type SimulatedVm,
  type TargetChannel,
} from "../../src/index.js";
import { receiveOn, startVm, toyHost, withReturnPath } from "../helpers/engine-fixtures.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** The target's channel with its LOADED answer rewritten by `edit`. */
function rewritingLoaded(
  channel: TargetChannel,
  edit: (msg: Extract<ReturnMessage, { type: "LOADED" }>) => ReturnMessage,
): TargetChannel {
  return withReturnPath(channel, (rp) => ({
    start: (digest, version) => rp.start(digest, version),
    send: (msg) => rp.send(msg.type === "LOADED" ? edit(msg) : msg),
  }));
}

describe("LOADED on the source", () => {
  it("puts the target's load time of each device in the result's downtime breakdown", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms);
    const { source, target } = createMemoryChannelPair();
    const received = receiveOn(
      toyHost("dst"),
      rewritingLoaded(target, () => ({ type: "LOADED", devices: [{ slot: 0, loadUs: 4_321 }] })),
      vms,
    );
    const result = await new MigrationSource(vm, source, {}, host).migrate();
    await received;
    expect(result.downtime.targetLoadMs).toEqual({ "00:05.0": 4.321 });
  });

  it("refuses a LOADED that leaves a device out (EPROTO), rolls back, and the target never runs", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms);
    const { source, target } = createMemoryChannelPair();
    const received = receiveOn(
      toyHost("dst"),
      rewritingLoaded(target, () => ({ type: "LOADED", devices: [] })),
      vms,
    );
    await expect(new MigrationSource(vm, source, {}, host).migrate()).rejects.toMatchObject({
      code: "EPROTO",
      phase: "handover",
      rolledBack: true,
    });
    await expect(received).rejects.toMatchObject({ code: "ECONNABORTED" });
    expect(vm.running).toBe(true);
    for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
  });
});
