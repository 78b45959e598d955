// Issue #14 item 7 on the wire: a DEVICE_CONFIG edited in flight, its frame CRC recomputed
// (what a CRC cannot catch), is refused by the target at END — before any device loads or
// the VM runs — and the source, told FAILED, keeps its VM running.
import { afterEach, describe, expect, it } from "vitest";
import {
  createMemoryChannelPair,
  frameRecord,
  MigrationError,
  MigrationSource,
  MigState,
  RecordType,
  type SimulatedVm,
  type SourceChannel,
} from "../../src/index.js";
import { receiveOn, startVm, toyHost } from "../helpers/engine-fixtures.js";
import { expectGuestWrites } from "../helpers/guest-progress.js";

const vms: SimulatedVm[] = [];
afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.destroy()));
});

/**
 * Passes frames through, except that DEVICE_CONFIG records (whole frames, alone in a send
 * or among the switchover's other records) get one config-space byte flipped and their
 * CRC recomputed. Counts the records it edited.
 */
function editingConfigs(inner: SourceChannel): SourceChannel & { edited: number } {
  const edit = (frame: Uint8Array): Uint8Array => {
    if (frame.byteLength < 16) return frame;
    const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const length = v.getUint32(8, true);
    if (v.getUint16(0, true) !== RecordType.DEVICE_CONFIG || frame.byteLength !== length + 16)
      return frame;
    const payload = frame.slice(12, 12 + length);
    // Byte 4 is the first config-space byte (after slot and reserved).
    payload[4] = (payload[4] ?? 0) ^ 0x40;
    channel.edited++;
    return frameRecord(RecordType.DEVICE_CONFIG, v.getUint32(4, true), payload);
  };
  const channel = {
    ...inner,
    edited: 0,
    send(frames: readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
      return inner.send(frames.map(edit), signal);
    },
    close: () => inner.close(),
    destroy: (reason?: Error) => inner.destroy(reason),
  };
  return channel;
}

describe("a DEVICE_CONFIG edited on the wire, CRC recomputed", () => {
  it("the target refuses it at END (device-digest) and the source VM keeps running", async () => {
    const vm = await startVm(toyHost("src"), vms);
    const pair = createMemoryChannelPair();
    const received = receiveOn(toyHost("dst"), pair.target, vms);
    const wire = editingConfigs(pair.source);
    const err = await new MigrationSource(vm, wire, {}, toyHost("src"))
      .migrate()
      .catch((e: unknown) => e);
    expect(wire.edited).toBe(1);
    await expect(received).rejects.toMatchObject({ code: "EBADMSG", rule: "device-digest" });
    expect(err).toBeInstanceOf(MigrationError);
    expect(err).toMatchObject({ rolledBack: true });
    expect((err as Error).message).toMatch(/device-digest/);
    expect(vm.running).toBe(true);
    expect(vm.devices[0]?.driver.getState()).toBe(MigState.RUNNING);
    await expectGuestWrites(vm);
  });
});
