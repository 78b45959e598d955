import { drainStream, loadDevice, saveDevice } from "@mdevkit/conformance";
import { driveTransition, MigState } from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  describeState,
  HEADER_BYTES,
  MttyDriver,
  mttyInvariants,
  PORT_BYTES,
  Reg,
  STREAM_MAGIC,
  streamBytes,
} from "../src/index.js";
import { exercise, makeDevice } from "./helpers.js";

describe("save on one driver, load on a fresh one", () => {
  for (const type of ["mtty-1", "mtty-2", "mtty-4"]) {
    it(`${type}: PRE_COPY header, STOP_COPY ports, target equals source`, async () => {
      const source = makeDevice(type);
      exercise(source.driver, 0);
      const before = describeState(source.driver);
      const ports = source.driver.portCount;

      const { precopy, stopCopy } = await saveDevice(source.driver);
      expect(precopy.byteLength).toBe(HEADER_BYTES);
      expect(new DataView(precopy.buffer).getBigUint64(0, true)).toBe(STREAM_MAGIC);
      expect(stopCopy.byteLength).toBe(ports * PORT_BYTES);
      expect(source.driver.getState()).toBe(MigState.STOP);

      const target = makeDevice(type);
      await loadDevice(target.driver, new Uint8Array([...precopy, ...stopCopy]));
      expect(describeState(target.driver)).toEqual(before);
      expect(describeState(source.driver)).toEqual(before); // saving changed nothing
      expect(mttyInvariants(target.driver)).toEqual([]);
      // Loading is not running: the target did nothing visible yet.
      expect(target.dma.writes).toEqual([]);
      expect(target.irq.total).toBe(0);
    });
  }

  it("without PRE_COPY, STOP → STOP_COPY sends header and ports in one image", async () => {
    const source = makeDevice("mtty-2");
    exercise(source.driver, 1);
    await driveTransition(source.driver, MigState.STOP);
    expect(await source.driver.getDataSize()).toBe(streamBytes(2));
    const { stream } = await driveTransition(source.driver, MigState.STOP_COPY);
    const { bytes: image } = await drainStream(stream!, 7);
    expect(image.byteLength).toBe(streamBytes(2));
    const target = makeDevice("mtty-2");
    await loadDevice(target.driver, image);
    expect(describeState(target.driver)).toEqual(describeState(source.driver));
  });

  it("getDataSize is exact in every phase; precopy info counts the header down", async () => {
    const { driver } = makeDevice("mtty-4");
    expect(await driver.getDataSize()).toBe(streamBytes(4));
    const { stream } = await driveTransition(driver, MigState.PRE_COPY);
    expect(await driver.precopyInfo()).toEqual({ initialBytes: HEADER_BYTES, dirtyBytes: 0 });
    expect(await driver.getDataSize()).toBe(4 * PORT_BYTES);
    await stream!.read(10);
    expect((await driver.precopyInfo()).initialBytes).toBe(HEADER_BYTES - 10);
    await drainStream(stream!);
    expect(await driver.precopyInfo()).toEqual({ initialBytes: 0, dirtyBytes: 0 });
    // The device keeps running in PRE_COPY.
    expect(driver.tick(3)).toBeGreaterThan(0);
    await driveTransition(driver, MigState.STOP_COPY);
    expect((await drainStream(stream!)).bytes.byteLength).toBe(4 * PORT_BYTES);
  });

  it("an abandoned precopy (PRE_COPY → RUNNING) leaves the device running and a new session starts clean", async () => {
    const { driver } = makeDevice("mtty-1");
    const { stream } = await driveTransition(driver, MigState.PRE_COPY);
    await driveTransition(driver, MigState.RUNNING);
    await expect(stream!.read(1)).rejects.toThrow(/ENODEV/);
    expect(driver.tick(1)).toBeGreaterThan(0);
    const again = await saveDevice(driver);
    expect(again.precopy.byteLength).toBe(HEADER_BYTES);
  });

  it("after migration source and target continue the same deterministic workload", async () => {
    const source = makeDevice("mtty-2", 1234);
    const reference = makeDevice("mtty-2", 1234);
    for (const d of [source, reference]) {
      d.driver.writeRegister(0, Reg.RING_SIZE, 1024);
      d.driver.writeRegister(1, Reg.IIR_FCR, 0x01);
      d.driver.tick(20);
    }
    const { precopy, stopCopy } = await saveDevice(source.driver);
    const target = makeDevice("mtty-2", 1234);
    // The target's guest memory arrives by the RAM migration, not the device stream.
    target.dma.memory.set(source.dma.memory);
    await loadDevice(target.driver, new Uint8Array([...precopy, ...stopCopy]));
    await driveTransition(target.driver, MigState.RUNNING);
    target.driver.tick(30);
    reference.driver.tick(30);
    expect(describeState(target.driver)).toEqual(describeState(reference.driver));
    expect(Buffer.from(target.dma.memory).equals(reference.dma.memory)).toBe(true);
  });

  it("accepts the stream split at any boundaries, down to single bytes", async () => {
    const source = makeDevice("mtty-4", 99);
    exercise(source.driver, 2);
    const { precopy, stopCopy } = await saveDevice(source.driver);
    const image = new Uint8Array([...precopy, ...stopCopy]);
    const expected = describeState(source.driver);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
        async (sizes) => {
          const target = makeDevice("mtty-4", 99);
          await loadDevice(target.driver, image, sizes);
          expect(describeState(target.driver)).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
    const oneByOne = makeDevice("mtty-4", 99);
    await loadDevice(oneByOne.driver, image, [1]);
    expect(describeState(oneByOne.driver)).toEqual(expected);
  });

  it("round-trips arbitrary guest register programs (property)", async () => {
    const op = fc.record({
      port: fc.integer({ min: 0, max: 1 }),
      offset: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x14, 0x18, 0x1c),
      value: fc.integer({ min: 0, max: 0xffff }),
      write: fc.boolean(),
      ticks: fc.integer({ min: 0, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const source = makeDevice("mtty-2", 5);
        for (const o of ops) {
          if (o.write)
            source.driver.writeRegister(
              o.port,
              o.offset,
              o.offset === 0x18 ? o.value & 0x3ff : o.value,
            );
          else source.driver.readRegister(o.port, o.offset);
          source.driver.tick(o.ticks);
        }
        expect(mttyInvariants(source.driver)).toEqual([]);
        const { precopy, stopCopy } = await saveDevice(source.driver);
        const target = makeDevice("mtty-2", 5);
        await loadDevice(target.driver, new Uint8Array([...precopy, ...stopCopy]));
        expect(describeState(target.driver)).toEqual(describeState(source.driver));
      }),
      { numRuns: 100 },
    );
  });

  it("reset returns every port to power-on state and the device to RUNNING", async () => {
    const { driver } = makeDevice("mtty-2");
    exercise(driver, 0);
    await driveTransition(driver, MigState.STOP);
    await driver.reset();
    expect(driver.getState()).toBe(MigState.RUNNING);
    expect(describeState(driver)).toEqual(describeState(makeDevice("mtty-2").driver));
    expect(driver).toBeInstanceOf(MttyDriver);
  });
});
