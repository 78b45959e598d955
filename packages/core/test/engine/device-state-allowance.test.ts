// Each driver bounds its own resuming stream, but an incoming VM may have 32 devices, and a
// vGPU's bound is tens of MiB: a source declaring 32 of them could make a target buffer
// gigabytes of device state outside its memory budget. The devices of one incoming VM
// share one allowance.
import { describe, expect, it } from "vitest";
import type { MigrationDataStream } from "../../src/contract/migration-data-stream.js";
import {
  createHost,
  createMemoryChannelPair,
  DEFAULT_MAX_DEVICE_STATE_MIB,
  DevicePhase,
  DeviceStateAllowance,
  MigFlags,
  MigrationTarget,
  StreamEncoder,
  TargetCapacity,
} from "../../src/index.js";
import { BareDriver } from "../helpers/bare-driver.js";
import { inertContext } from "../helpers/toy-driver.js";
import { toyPlugin } from "../helpers/toy-plugin.js";

const MIB = 2 ** 20;

/** A resuming stream that counts what reaches the device. */
function countingStream(): MigrationDataStream & { bytes: number } {
  return {
    direction: "resuming",
    closed: false,
    bytes: 0,
    read: async () => new Uint8Array(0),
    async write(chunk) {
      this.bytes += chunk.byteLength;
      return chunk.byteLength;
    },
  };
}

/** A device that takes up to 64 MiB of state, as a large vGPU's driver does. */
class RoomyDriver extends BareDriver {
  constructor() {
    super(inertContext({ migrationFlags: MigFlags.STOP_COPY }), { maxStateBytes: 64 * MIB });
  }
}

/** A target for a VM with `devices` roomy devices, and a source channel that handshook. */
async function handshookTarget(devices: number, capacity: TargetCapacity) {
  const { source, target } = createMemoryChannelPair();
  const host = createHost({
    name: "dst",
    plugins: [toyPlugin({ migrationFlags: MigFlags.STOP_COPY, create: () => new RoomyDriver() })],
  });
  const received = new MigrationTarget(host, target, { capacity }).receive();
  received.catch(() => {});
  const slots = Array.from({ length: devices }, (_, i) => i);
  const config = {
    name: "vm",
    memoryMiB: 4,
    devices: slots.map((i) => ({
      slot: `00:${(i + 2).toString(16).padStart(2, "0")}.0`,
      plugin: "toy",
      deviceType: "toy-1",
    })),
  };
  const encoder = new StreamEncoder();
  await source.send(
    encoder.start({
      config: new TextEncoder().encode(JSON.stringify(config)),
      devices: slots.map((slot) => ({
        slot,
        plugin: "toy",
        pluginVersion: "1.2.3",
        deviceType: "toy-1",
        compat: new Uint8Array(0),
      })),
    }),
  );
  expect(await source.returnPath?.next()).toMatchObject({ type: "ACCEPT" });
  await source.send(encoder.precopyEnd());
  return { source, encoder, received, slots };
}

/**
 * Sends each device 1 MiB at a time, round robin, until `perDevice` MiB each went or the
 * target stopped taking them; how many MiB the source got out.
 */
async function sendState(
  h: Awaited<ReturnType<typeof handshookTarget>>,
  perDevice: number,
): Promise<number> {
  const chunk = new Uint8Array(MIB).fill(0x5a);
  let sent = 0;
  for (let m = 0; m < perDevice; m++) {
    for (const slot of h.slots) {
      try {
        await h.source.send(h.encoder.deviceData(slot, DevicePhase.STOP_COPY, chunk));
      } catch {
        return sent;
      }
      sent += 1;
    }
  }
  return sent;
}

describe("the device state one incoming VM may send", () => {
  it("is charged across all of its devices' streams, and a write past it never reaches a device", async () => {
    const allowance = new DeviceStateAllowance(10);
    const a = countingStream();
    const b = countingStream();
    const boundA = allowance.bound(a);
    const boundB = allowance.bound(b);
    await boundA.write(new Uint8Array(6));
    await boundB.write(new Uint8Array(4));
    await expect(boundB.write(new Uint8Array(1))).rejects.toMatchObject({ code: "ENOMEM" });
    expect([a.bytes, b.bytes, allowance.taken]).toEqual([6, 4, 10]);
    expect(boundA.direction).toBe("resuming");
  });

  it(`is ${DEFAULT_MAX_DEVICE_STATE_MIB} MiB by default: five devices of 64 MiB each cannot all fill up`, async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64 });
    expect(capacity.maxDeviceStateMiB).toBe(DEFAULT_MAX_DEVICE_STATE_MIB);
    const h = await handshookTarget(5, capacity);
    // 60 MiB each is within every device's own bound: only the VM's allowance refuses.
    void sendState(h, 60);
    await expect(h.received).rejects.toMatchObject({
      code: "ENOMEM",
      message: expect.stringMatching(/more than the 256 MiB of device state this target takes/),
    });
    expect(capacity.loading).toBe(false);
  }, 60_000);

  it("follows the capacity's maxDeviceStateMiB, and a VM within it loads", async () => {
    const capacity = new TargetCapacity({ maxMemoryMiB: 64, maxDeviceStateMiB: 3 });
    const refused = await handshookTarget(2, capacity);
    void sendState(refused, 2);
    await expect(refused.received).rejects.toMatchObject({ code: "ENOMEM" });
    expect(capacity.loading).toBe(false);

    const loading = await handshookTarget(3, capacity);
    expect(await sendState(loading, 1)).toBe(3);
    loading.source.destroy();
    await expect(loading.received).rejects.toMatchObject({ code: "ECONNRESET" });
  });

  it("is a positive whole number of MiB", () => {
    expect(() => new TargetCapacity({ maxDeviceStateMiB: 0 })).toThrow(/device state limit 0 MiB/);
    expect(() => new TargetCapacity({ maxDeviceStateMiB: 1.5 })).toThrow(/not a positive whole/);
  });
});
