// A driver call the migration gave up waiting for (DeviceCallGuard) finishes later. Before
// the late recovery, the rollback left such a device alone for good: the source VM ran on
// with it in STOP_COPY (or PRE_COPY_P2P) and its DMA log running, even after the call
// settled, and a new migration of the VM called straight into it. Every wait here is on a
// promise the test settles; the deadlines are far off unless a test relies on one firing,
// and none depends on when it fires.
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import {
  createHost,
  createMemoryChannelPair,
  deviceCallsSettled,
  devicesStillBusy,
  driveTransition,
  MdevError,
  type MigrationOptionsInput,
  MigrationSource,
  MigState,
  migStateName,
  PAGE_SIZE,
  parseVmConfig,
  returnDevicesToRunning,
  SimulatedVm,
  saveVm,
  TOKENS,
  type VmDevice,
} from "../../src/index.js";
import { type DmaToyOptions, dmaToyPlugin } from "../helpers/dma-toy-plugin.js";
import {
  failedMigration,
  memoryTarget,
  RecordingSink,
  SMALL_VM,
  startVm,
  toyHost,
} from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/** A promise the test settles. */
interface Gate {
  readonly promise: Promise<void>;
  open(): void;
  fail(err: unknown): void;
}

function gate(): Gate {
  let open!: () => void;
  let fail!: (err: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  // A gate failed before anything waits on it is not an unhandled rejection.
  promise.catch(() => {});
  return { promise, open, fail };
}

/** No deadline fires unless the test means it to. */
const FAR: MigrationOptionsInput = {
  switchoverTimeoutMs: 3_600_000,
  peerTimeoutMs: 3_600_000,
  timeoutMs: 86_400_000,
};

/**
 * A running source VM (SMALL_VM) whose toy device's stop hook — first called in the
 * switchover — opens `entered` and then waits for `hold`. Its host records engine events.
 */
async function heldVm(hold: Gate, entered: Gate, toy: DmaToyOptions = {}) {
  const host = createHost({
    name: "src",
    plugins: [
      dmaToyPlugin({
        ...toy,
        hang: "stop",
        releaseHang: () => {
          entered.open();
          return hold.promise;
        },
      }),
    ],
  });
  const sink = new RecordingSink();
  host.container.register(TOKENS.EventSink, { useValue: sink });
  const vm = await startVm(host, vms);
  const device = vm.devices[0];
  if (device === undefined) throw new Error("SMALL_VM has a device");
  return { host, vm, device, sink };
}

/**
 * Migrates `vm` to a fresh in-memory target; it fails while the stop hook is held, aborted
 * by cancel() once the hook was entered, or by the switchover deadline. Resolves with the
 * source and its error.
 */
async function abortedWhileHeld(
  host: ReturnType<typeof createHost>,
  vm: SimulatedVm,
  entered: Gate,
  abort: "cancel()" | "switchover deadline",
) {
  const { source: channel } = memoryTarget(toyHost("dst"), vms);
  const options = abort === "cancel()" ? FAR : { ...FAR, switchoverTimeoutMs: 1000 };
  const source = new MigrationSource(vm, channel, options, host);
  if (abort === "cancel()") void entered.promise.then(() => source.cancel("operator said stop"));
  const recovered = once(source, "device-recovered");
  const { error } = await failedMigration(source, "the migration completed with a held driver");
  return { source, error, recovered };
}

/** Reads `device`'s DMA log (a read, not a state change); rejects when logging is off. */
function readDmaLog(vm: SimulatedVm, device: VmDevice): Promise<void> {
  const bitmap = new BigUint64Array(Math.ceil(vm.memory.pages / 64));
  return device.driver.logReadAndClear(0, vm.memory.size, PAGE_SIZE, bitmap);
}

const LEFT_IN_P2P =
  "device 00:05.0 did not finish a driver call before the migration was aborted; it was left in PRE_COPY_P2P and will be returned to RUNNING once that call finishes";

describe("a driver call abandoned by an aborted migration", { timeout: 60_000 }, () => {
  it.each(["cancel()", "switchover deadline"] as const)(
    "that finishes later (aborted by %s): the device returns to RUNNING with its DMA log stopped, and the source says so",
    async (abort) => {
      const hold = gate();
      const entered = gate();
      const { host, vm, device, sink } = await heldVm(hold, entered);
      const { error, recovered } = await abortedWhileHeld(host, vm, entered, abort);
      expect(error).toMatchObject({ rolledBack: true, phase: "switchover" });
      expect(error.problems).toEqual([LEFT_IN_P2P]);
      // Until the call finishes, the device is left as it is: the guest runs without it.
      expect(migStateName(device.driver.getState())).toBe("PRE_COPY_P2P");
      expect(devicesStillBusy(vm.devices)).toEqual([device]);
      await expect(readDmaLog(vm, device)).resolves.toBeUndefined();
      await expectGuestWrites(vm);

      hold.open();
      const [recovery] = await recovered;
      expect(recovery).toEqual({ slot: "00:05.0", state: "RUNNING" });
      expect(sink.of("device-recovered")).toEqual([
        { kind: "device-recovered", slot: "00:05.0", state: "RUNNING" },
      ]);
      expect(device.driver.getState()).toBe(MigState.RUNNING);
      await expect(readDmaLog(vm, device)).rejects.toThrow(/DMA logging is not started/);
      await deviceCallsSettled(vm.devices);
      expect(devicesStillBusy(vm.devices)).toEqual([]);
      expect(vm.running).toBe(true);
      await expectGuestWrites(vm);
    },
  );

  it("that fails later: the device still returns to RUNNING", async () => {
    const hold = gate();
    const entered = gate();
    const { host, vm, device } = await heldVm(hold, entered);
    const { error, recovered } = await abortedWhileHeld(host, vm, entered, "cancel()");
    expect(error).toMatchObject({ code: "ECANCELED", rolledBack: true });
    expect(error.problems).toEqual([LEFT_IN_P2P]);

    hold.fail(new MdevError("EIO", "the device's stop interrupt never came"));
    const [recovery] = await recovered;
    // The failed arc left the device in PRE_COPY_P2P, from where the FSM returns it.
    expect(recovery).toEqual({ slot: "00:05.0", state: "RUNNING" });
    expect(device.driver.getState()).toBe(MigState.RUNNING);
    await expect(readDmaLog(vm, device)).rejects.toThrow(/DMA logging is not started/);
    expect(devicesStillBusy(vm.devices)).toEqual([]);
    await expectGuestWrites(vm);
  });

  it("that finishes where the FSM cannot start the device: it is reset, and that is reported", async () => {
    const hold = gate();
    const entered = gate();
    const { host, vm, device } = await heldVm(hold, entered, { failStart: true });
    const { recovered } = await abortedWhileHeld(host, vm, entered, "cancel()");

    hold.open();
    const [recovery] = await recovered;
    expect(recovery).toMatchObject({ slot: "00:05.0", state: "RUNNING" });
    expect(recovery.problem).toMatch(
      /^device 00:05\.0 could not return to RUNNING from STOP \(.*toy device failed to start.*\); it was reset$/,
    );
    expect(device.driver.getState()).toBe(MigState.RUNNING);
    await expectGuestWrites(vm);
  });

  it("refuses a new migration or save of the VM (EBUSY, VM untouched) until it finished; then migrates", async () => {
    const hold = gate();
    const entered = gate();
    const { host, vm, device } = await heldVm(hold, entered);
    await abortedWhileHeld(host, vm, entered, "cancel()");

    const second = memoryTarget(toyHost("dst"), vms);
    const { error: refused } = await failedMigration(
      new MigrationSource(vm, second.source, FAR, host),
      "a second migration ran into a device still in a driver call",
    );
    expect(refused).toMatchObject({ code: "EBUSY", rolledBack: true, problems: [] });
    expect(refused.message).toContain(
      "device 00:05.0 is still finishing a driver call from an aborted migration",
    );
    // Refused before connecting: the URL is never dialled.
    await expect(MigrationSource.connect(host, vm, "tcp://127.0.0.1:9", FAR)).rejects.toMatchObject(
      { code: "EBUSY", rolledBack: true },
    );
    await expect(saveVm(vm, createMemoryChannelPair().source)).rejects.toMatchObject({
      code: "EBUSY",
    });
    await expect(second.received).rejects.toThrow();
    expect(migStateName(device.driver.getState())).toBe("PRE_COPY_P2P");
    expect(vm.running).toBe(true);
    await expectGuestWrites(vm);

    hold.open();
    await deviceCallsSettled(vm.devices);
    const third = memoryTarget(toyHost("dst"), vms);
    const result = await new MigrationSource(vm, third.source, FAR, host).migrate();
    expect(result.outcome).toBe("completed");
    expect((await third.received).vm.devices[0]?.driver.getState()).toBe(MigState.RUNNING);
  });
});

describe("returnDevicesToRunning with a device that answers after its timeout", {
  timeout: 60_000,
}, () => {
  it("reports it, then returns it to RUNNING once its call settles and tells onRecovered", async () => {
    const hold = gate();
    const host = createHost({
      name: "h",
      plugins: [dmaToyPlugin({ hang: "start", releaseHang: () => hold.promise })],
    });
    const vm = await SimulatedVm.create(parseVmConfig(SMALL_VM), host, { role: "source" });
    vms.push(vm);
    const device = vm.devices[0];
    if (device === undefined) throw new Error("SMALL_VM has a device");
    await driveTransition(device.driver, MigState.STOP);
    const recoveries: unknown[] = [];
    const problems = await returnDevicesToRunning(vm.devices, undefined, 200, (r) =>
      recoveries.push(r),
    );
    expect(problems).toEqual([
      "device 00:05.0 did not return to RUNNING within 200 ms; it was left in STOP and will be returned to RUNNING once that call finishes",
    ]);
    expect(devicesStillBusy(vm.devices)).toEqual([device]);
    hold.open();
    await deviceCallsSettled(vm.devices);
    expect(recoveries).toEqual([{ slot: "00:05.0", state: "RUNNING" }]);
    expect(device.driver.getState()).toBe(MigState.RUNNING);
  });
});
