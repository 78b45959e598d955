// The target hands each DEVICE_DATA record's bytes to the device's resuming stream, and
// the contract lets a driver keep what it is given. The bytes arrive as a view of the
// socket's reused read Buffer, and a Buffer's slice() is a view too: the "copy" handed to
// the driver changed under it with the next read.
import { describe, expect, it } from "vitest";
import type { MigrationDataStream } from "../../src/contract/migration-data-stream.js";
import { ReceivingState } from "../../src/engine/target-receiving.js";
import type { SimulatedVm } from "../../src/vm/simulated-vm.js";

/** A resuming stream that keeps every chunk as given, as a driver may. */
function keepingStream(kept: Uint8Array[]): MigrationDataStream {
  return {
    direction: "resuming",
    closed: false,
    read: async () => new Uint8Array(0),
    write: async (chunk) => {
      kept.push(chunk);
      return chunk.byteLength;
    },
  };
}

describe("device data handed to a driver", () => {
  it("is the driver's own copy, even when it arrived in a reused Buffer", async () => {
    const kept: Uint8Array[] = [];
    const vm = { memory: { pages: 1 }, devices: [] } as unknown as SimulatedVm;
    const receiving = new ReceivingState(
      { vm, streams: new Map([[0, keepingStream(kept)]]) },
      { initialDataLoaded: async () => {} },
    );
    const readBuffer = Buffer.alloc(16);
    readBuffer.fill(1);
    await receiving.deviceData(0, readBuffer.subarray(0, 8));
    readBuffer.fill(2);
    await receiving.deviceData(0, readBuffer.subarray(0, 8));
    expect(kept.map((c) => [...c])).toEqual([Array(8).fill(1), Array(8).fill(2)]);
  });
});
