import { once } from "node:events";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { nativePageRoutines } from "../../src/memory/native-page-routines.js";
import {
  LOW_WATER_CAP,
  LOW_WATER_HOLD_MS,
  LowWaterMark,
} from "../../src/transport/low-water-mark.js";

/** A mark over a recording setter; `refuse` makes the setter fail. */
function recorded(refuse = false): { mark: LowWaterMark; sets: number[] } {
  const sets: number[] = [];
  return {
    sets,
    mark: new LowWaterMark((bytes) => {
      sets.push(bytes);
      return !refuse;
    }),
  };
}

describe("the low-water mark", () => {
  it("holds nothing back until two reads gave it a rate", () => {
    const { mark, sets } = recorded();
    mark.expect(4 << 20);
    mark.arrived(65536, 10);
    mark.expect(4 << 20);
    expect(sets).toEqual([]);
    expect(mark.current).toBe(1);
  });

  it("asks for what the consumer needs, at most the cap, and only when it changes", () => {
    const { mark, sets } = recorded();
    mark.arrived(1 << 20, 10);
    mark.arrived(1 << 20, 10.5); // 2 GB/s
    mark.expect(4 << 20);
    mark.expect(3 << 20);
    mark.expect(12);
    mark.expect(300_000.7);
    expect(sets).toEqual([LOW_WATER_CAP, 12, 300_000]);
  });

  it("holds no more than a few milliseconds of a slow link's bytes", () => {
    const { mark } = recorded();
    mark.arrived(1000, 0);
    mark.arrived(1000, 100); // 10 bytes a millisecond: a capped migration
    mark.expect(4 << 20);
    expect(mark.current).toBe(10 * LOW_WATER_HOLD_MS);
    mark.arrived(10, 60_000); // after a long silence, no hold at all
    mark.expect(4 << 20);
    expect(mark.current).toBe(1);
  });

  it("keeps the mark it had when the kernel refuses a new one", () => {
    const { mark, sets } = recorded(true);
    mark.arrived(1 << 20, 0);
    mark.arrived(1 << 20, 1);
    mark.expect(4096);
    expect(sets).toEqual([4096]);
    expect(mark.current).toBe(1);
  });

  // What the mark relies on, on a real socket: the kernel holds bytes below it.
  it.skipIf(nativePageRoutines?.setReceiveLowWater === undefined)(
    "on a TCP socket, the kernel holds bytes below the mark and hands them over once it is reached",
    async () => {
      const server = createServer();
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const { port } = server.address() as { port: number };
      const accepted = once(server, "connection") as Promise<[Socket]>;
      const client = netConnect(port, "127.0.0.1");
      const [socket] = await accepted;
      const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
      expect(nativePageRoutines?.setReceiveLowWater?.(fd, 3000)).toBe(true);
      const chunks: number[] = [];
      socket.on("data", (d: Buffer) => chunks.push(d.byteLength));
      client.write(new Uint8Array(1000));
      // Loopback hands bytes over in microseconds: without the mark they would be here.
      await new Promise((r) => setTimeout(r, 150));
      expect(chunks).toEqual([]);
      client.write(new Uint8Array(2000));
      await once(socket, "data");
      expect(chunks).toEqual([3000]);
      client.destroy();
      socket.destroy();
      server.close();
    },
  );
});
