// ITERATION_ACK n says every record up to ITERATION n was applied. Before the fix, the
// source's reader took an ack of an ITERATION it had not sent yet (only the switchover
// compared it, with the pass count at that moment): a target acknowledging pass 1 at
// ACCEPT, before any RAM left, was believed once pass 1 went out — the source skipped its
// wait for the target to catch up, and the migration completed on a lie.
import { afterEach, describe, expect, it } from "vitest";
import { MigrationSource, MigState, RecordType, type SimulatedVm } from "../../src/index.js";
import { failedMigration, SMALL_VM, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";
import {
  iterationAckPayload,
  loadedPayload,
  type RawTarget,
  rawTarget,
} from "../helpers/raw-target.js";

const vms: SimulatedVm[] = [];
const targets: RawTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

describe("an ITERATION_ACK ahead of the stream", { timeout: 60_000 }, () => {
  it("is EPROTO at once; the VM runs on unthrottled with its devices RUNNING", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms, SMALL_VM);
    const throttles: number[] = [];
    const setThrottle = vm.setThrottle.bind(vm);
    vm.setThrottle = (percent) => {
      throttles.push(percent);
      setThrottle(percent);
    };
    const target = await rawTarget((r, a) => {
      if (r.type === "HANDSHAKE") {
        a.socket.cork();
        a.start();
        a.send(RecordType.ACCEPT);
        a.send(RecordType.SWITCHOVER_ACK);
        // No RAM has gone out yet, let alone ITERATION 1.
        a.send(RecordType.ITERATION_ACK, iterationAckPayload(1));
        a.socket.uncork();
      } else if (r.type === "END") {
        // Had the lie been believed, the migration completes.
        a.send(RecordType.LOADED, loadedPayload(vm.devices.length));
      } else if (r.type === "GO") {
        a.send(RecordType.RESUMED);
      }
    });
    targets.push(target);
    const source = await MigrationSource.connect(host, vm, target.url, { peerTimeoutMs: 5000 });
    const { error } = await failedMigration(
      source,
      "the source believed an ack of a pass not sent",
    );
    expect(error).toMatchObject({ code: "EPROTO", rolledBack: true });
    expect(error.message).toMatch(/ITERATION_ACK 1 before the source sent ITERATION 1/);
    expect(vm.running).toBe(true);
    expect(throttles.at(-1)).toBe(0);
    for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
    await expectGuestWrites(vm);
  });
});
