// The source checks the target's answers against what it sent: a return path about another
// VM, in another format version, or a LOADED before the source sent END is EPROTO. Before
// the fix, the first two were accepted (and a version 2 header skipped ITERATION_ACK), and
// the early LOADED got GO: the source gave up its VM to a target that had checked nothing.
import { afterEach, describe, expect, it } from "vitest";
import {
  createMemoryChannelPair,
  MigrationSource,
  MigState,
  type ReturnPathWriter,
  type SimulatedVm,
  StreamDecoder,
  type StreamDecoder as StreamDecoderType,
  type StreamRecord,
  type TargetChannel,
  type VmConfigInput,
} from "../../src/index.js";
import { failedMigration, SMALL_VM, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";

const vms: SimulatedVm[] = [];
const channels: TargetChannel[] = [];
afterEach(async () => {
  for (const c of channels.splice(0)) c.destroy();
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** What the fake target does with each record: answers on `rp`. */
type Script = (
  record: StreamRecord,
  rp: ReturnPathWriter,
  decoder: StreamDecoderType,
) => Promise<void>;

/**
 * A fake target on `channel` that follows `script`; resolves with the types of the records
 * it received, once the source ended or cut the connection.
 */
async function scriptedTarget(channel: TargetChannel, script: Script): Promise<string[]> {
  channels.push(channel);
  const rp = channel.returnPath;
  if (rp === null) throw new Error("needs a return path");
  const decoder = new StreamDecoder({ guestPages: 1 << 20 });
  const seen: string[] = [];
  try {
    for await (const chunk of channel.receive()) {
      for (const r of decoder.push(chunk)) {
        seen.push(r.type);
        await script(r, rp, decoder);
      }
    }
  } catch {
    // The source cut the connection: what it sent until then is the answer.
  }
  return seen;
}

/** Answers like a healthy target up to END: ACCEPT, SWITCHOVER_ACK, each ITERATION_ACK. */
async function healthy(r: StreamRecord, rp: ReturnPathWriter, decoder: StreamDecoderType) {
  if (r.type === "HANDSHAKE") {
    await rp.start(decoder.header?.configDigest ?? new Uint8Array(32), decoder.header?.version);
    await rp.send({ type: "ACCEPT" });
    await rp.send({ type: "SWITCHOVER_ACK" });
  } else if (r.type === "ITERATION") {
    await rp.send({ type: "ITERATION_ACK", iteration: r.iteration });
  }
}

/** Every device listed, as a LOADED must. */
const LOADED = { type: "LOADED", devices: [{ slot: 0, loadUs: 1 }] } as const;

/**
 * A VM without devices: the early LOADED is read while the source is in switchover, and an
 * abort that lands during a driver call leaves that device alone (DeviceCallGuard), which
 * is not what these tests are about.
 */
const NO_DEVICES: VmConfigInput = { ...SMALL_VM, devices: [] };

/** Migrates a running toy VM to `script`; the source's error and what the target got. */
async function migrateTo(script: Script, config: VmConfigInput = SMALL_VM) {
  const host = toyHost("src");
  const vm = await startVm(host, vms, config);
  const { source, target } = createMemoryChannelPair();
  const received = scriptedTarget(target, script);
  // Small waits: before the fix, a target that never answers GO ends the run at the peer timeout.
  const outcome = failedMigration(
    new MigrationSource(vm, source, { peerTimeoutMs: 2000 }, host),
    "the source completed a migration its target answered wrongly",
  );
  // However the source ended, the fake target stops with it (a source that handed its VM
  // over keeps the connection open).
  await outcome.catch(() => {});
  target.destroy();
  const seen = await received;
  const { error } = await outcome;
  return { vm, error, seen };
}

/** The VM runs on here as before: vCPUs write again and its device is RUNNING. */
async function expectRunsOn(vm: SimulatedVm): Promise<void> {
  expect(vm.running).toBe(true);
  for (const d of vm.devices) expect(d.driver.getState()).toBe(MigState.RUNNING);
  await expectGuestWrites(vm);
}

describe("the source checks the return path against what it sent", { timeout: 60_000 }, () => {
  it("refuses a LOADED that came before END (EPROTO), sends no GO and resumes the VM", async () => {
    const { vm, error, seen } = await migrateTo(async (r, rp, decoder) => {
      await healthy(r, rp, decoder);
      // The source has paused its VM; the target claims it loaded what it has not seen.
      if (r.type === "PRECOPY_END") await rp.send({ type: "LOADED", devices: [] });
    }, NO_DEVICES);
    expect(error).toMatchObject({ code: "EPROTO", rolledBack: true, phase: "switchover" });
    expect(error.message).toMatch(/LOADED before the source sent END/);
    expect(seen).toContain("PRECOPY_END");
    expect(seen).not.toContain("END");
    expect(seen).not.toContain("GO");
    await expectRunsOn(vm);
  });

  it("refuses a return path echoing another VM's config digest before anything is handed over", async () => {
    const { vm, error, seen } = await migrateTo(async (r, rp, decoder) => {
      if (r.type === "HANDSHAKE") {
        await rp.start(new Uint8Array(32).fill(0xee), decoder.header?.version);
        await rp.send({ type: "ACCEPT" });
        await rp.send({ type: "SWITCHOVER_ACK" });
      } else await healthy(r, rp, decoder);
      if (r.type === "END") await rp.send(LOADED);
    });
    expect(error).toMatchObject({ code: "EPROTO", rolledBack: true, phase: "handshake" });
    expect(error.message).toMatch(/config-digest/);
    expect(seen.filter((t) => t !== "ABORT")).toEqual(["HANDSHAKE"]);
    await expectRunsOn(vm);
  });

  it("refuses a return path in another format version than the stream's (EPROTO)", async () => {
    const { vm, error, seen } = await migrateTo(async (r, rp, decoder) => {
      if (r.type !== "HANDSHAKE") return;
      // A version 2 return path has no ITERATION_ACK: the source would not wait for one.
      await rp.start(decoder.header?.configDigest ?? new Uint8Array(32), 2);
      await rp.send({ type: "ACCEPT" });
      await rp.send({ type: "SWITCHOVER_ACK" });
      await rp.send(LOADED);
    });
    expect(error).toMatchObject({ code: "EPROTO", rolledBack: true, phase: "handshake" });
    expect(error.message).toMatch(/format version 2; the forward stream is version 5/);
    expect(seen.filter((t) => t !== "ABORT")).toEqual(["HANDSHAKE"]);
    await expectRunsOn(vm);
  });
});
