// The paused window's device records and END go out in a few writes (SwitchoverBatch), and
// END's device totals are computed once for the encoder and its own check (ForwardRules).
import { describe, expect, it } from "vitest";
import { SwitchoverBatch } from "../../src/engine/switchover-batch.js";
import { ForwardRules } from "../../src/stream/forward-rules.js";
import { DevicePhase } from "../../src/stream/records.js";

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe("SwitchoverBatch", () => {
  it("writes records in order, one write per `limit` bytes, and nothing when empty", async () => {
    const writes: Uint8Array[][] = [];
    const batch = new SwitchoverBatch(async (frames) => {
      writes.push(frames);
    }, 100);
    await batch.flush();
    expect(writes).toEqual([]);
    await batch.add([bytes(40, 1), bytes(10, 2)]);
    await batch.add([bytes(30, 3)]);
    expect(writes).toEqual([]);
    await batch.add([bytes(25, 4)]); // 105 bytes: the batch goes out
    await batch.add([bytes(5, 5)]);
    await batch.flush();
    await batch.flush();
    expect(writes.map((w) => w.map((f) => f[0]))).toEqual([[1, 2, 3, 4], [5]]);
  });

  it("passes a failed write on to the record that filled the batch", async () => {
    const batch = new SwitchoverBatch(() => Promise.reject(new Error("cut")), 8);
    await batch.add([bytes(4, 1)]);
    await expect(batch.add([bytes(4, 2)])).rejects.toThrow("cut");
  });
});

describe("ForwardRules.deviceTotals", () => {
  it("is computed again once a device record changes what END must say", () => {
    const rules = new ForwardRules();
    rules.accept(
      {
        type: "HANDSHAKE",
        config: new TextEncoder().encode("{}"),
        devices: [
          { slot: 0, plugin: "p", pluginVersion: "1", deviceType: "t", compat: new Uint8Array() },
        ],
      },
      0,
    );
    rules.accept({ type: "PRECOPY_END" }, 0);
    const before = rules.deviceTotals();
    expect(rules.deviceTotals()).toEqual(before);
    rules.accept({ type: "DEVICE_CONFIG", slot: 0, config: bytes(8, 7) }, 0);
    const configured = rules.deviceTotals();
    expect(configured[0]?.digest).not.toEqual(before[0]?.digest);
    rules.accept(
      { type: "DEVICE_DATA", slot: 0, phase: DevicePhase.STOP_COPY, data: bytes(3, 9) },
      0,
    );
    const after = rules.deviceTotals();
    expect(after[0]?.bytes).toBe(3);
    expect(after[0]?.digest).not.toEqual(configured[0]?.digest);
  });
});
