// A target that answers LOADED and then nothing after GO leaves the handover unresolved:
// the VM stays paused here (it may run there). Before the fix the source also kept the
// connection open for good — a socket, and a reader reading whatever the target sent, for
// as long as the target liked. A target that says RESUMED before GO gets GO all the same.
import { afterEach, describe, expect, it } from "vitest";
import { MigrationSource, RecordType, type SimulatedVm } from "../../src/index.js";
import { failedMigration, SMALL_VM, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { loadedPayload, type RawTarget, rawTarget } from "../helpers/raw-target.js";

const vms: SimulatedVm[] = [];
const targets: RawTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** How long the test lets the source take to close, once it gave up: generous, a bound. */
const CLOSE_BOUND_MS = 10_000;

describe("a target that never says RESUMED", { timeout: 60_000 }, () => {
  it("unresolved at the peer timeout: the VM stays paused and the connection is closed", async () => {
    const host = toyHost("src");
    const vm = await startVm(host, vms, SMALL_VM);
    let source: MigrationSource | undefined;
    const phasesAfterGo: string[] = [];
    const target = await rawTarget((r, a) => {
      a.healthy(r);
      if (r.type === "END") a.send(RecordType.LOADED, loadedPayload(vm.devices.length));
      if (r.type === "GO") phasesAfterGo.push(source?.phase ?? "no source");
    });
    targets.push(target);
    source = await MigrationSource.connect(host, vm, target.url, { peerTimeoutMs: 1000 });
    const { error } = await failedMigration(source, "completed without RESUMED");
    expect(error).toMatchObject({ code: "ETIMEDOUT", phase: "handover", rolledBack: false });
    // Without RESUMED the migration is not complete, while it waits nor after it gave up
    // (the getter said "completed" from GO on).
    expect(phasesAfterGo).toEqual(["handover"]);
    expect(source.phase).toBe("handover");
    expect(error.message).toMatch(/RESUMED did not arrive/);
    expect(vm.running).toBe(false);
    let bound: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      target.closed.then(() => "closed"),
      new Promise((r) => {
        bound = setTimeout(() => r("still open"), CLOSE_BOUND_MS);
      }),
    ]);
    clearTimeout(bound);
    expect(outcome).toBe("closed");
  });
});

describe("a target that says RESUMED before GO", { timeout: 60_000 }, () => {
  it("RESUMED sent with LOADED: GO still goes out and the VM stays paused here", async () => {
    // A target that resumes without waiting for GO breaks the two-phase rule, but the
    // source's choices are: roll back (its VM would run beside the target's: two copies),
    // withhold GO (a target that said RESUMED early but waits for GO would run nothing:
    // no copy), or send GO (one copy, there). The last is never worse; pinned here.
    const host = toyHost("src");
    const vm = await startVm(host, vms, SMALL_VM);
    const forward: string[] = [];
    const target = await rawTarget((r, a) => {
      forward.push(r.type);
      a.healthy(r);
      if (r.type === "END") {
        a.send(RecordType.LOADED, loadedPayload(vm.devices.length));
        a.send(RecordType.RESUMED);
      }
    });
    targets.push(target);
    const source = await MigrationSource.connect(host, vm, target.url, { peerTimeoutMs: 5000 });
    const result = await source.migrate();
    expect(result.outcome).toBe("completed");
    expect(vm.running).toBe(false);
    await target.closed;
    expect(forward.at(-1)).toBe("GO");
  });
});
