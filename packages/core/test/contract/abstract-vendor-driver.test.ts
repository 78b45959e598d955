import { describe, expect, it } from "vitest";
import {
  driveTransition,
  FsmError,
  MdevError,
  MigFlags,
  type MigrationDataStream,
  MigState,
} from "../../src/index.js";
import { inertContext, ToyDriver } from "../helpers/toy-driver.js";

async function readAll(stream: MigrationDataStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const chunk = await stream.read(3);
    if (chunk.length === 0) break;
    parts.push(chunk.slice());
  }
  return Buffer.concat(parts);
}

describe("AbstractVendorDriver: arcs", () => {
  it("refuses an illegal flag set at construction", () => {
    expect(() => new ToyDriver(MigFlags.P2P)).toThrow(/not a legal set/);
    expect(() => new ToyDriver(0)).toThrow(MdevError);
  });

  it("refuses a request that is not one direct arc, leaving the state unchanged", async () => {
    const d = new ToyDriver();
    await expect(d.setState(MigState.STOP)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(d.setState(MigState.ERROR)).rejects.toBeInstanceOf(FsmError);
    expect(d.getState()).toBe(MigState.RUNNING);
    expect(d.calls).toEqual([]);
  });

  it("calls the hooks of each arc in order (P2P device)", async () => {
    const d = new ToyDriver();
    await driveTransition(d, MigState.STOP);
    await driveTransition(d, MigState.RUNNING);
    expect(d.calls).toEqual(["quiesceP2P", "stop", "start", "resumeP2P"]);
  });

  it("a device without P2P still quiesces and stops on the direct RUNNING -> STOP arc", async () => {
    const d = new ToyDriver(MigFlags.STOP_COPY);
    await d.setState(MigState.STOP);
    expect(d.calls).toEqual(["quiesceP2P", "stop"]);
    expect(d.running).toBe(false);
  });

  it("a hook throwing a plain Error becomes an FsmError EIO and the state is kept", async () => {
    const d = new ToyDriver();
    d.failHook = "stop";
    const err = await driveTransition(d, MigState.STOP).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FsmError);
    expect(err).toMatchObject({ code: "EIO" });
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(d.getState()).toBe(MigState.RUNNING_P2P);
  });

  it("a composite arc that fails part-way undoes its earlier steps (the device runs as before)", async () => {
    const d = new ToyDriver(MigFlags.STOP_COPY);
    d.failHook = "stop";
    await expect(d.setState(MigState.STOP)).rejects.toMatchObject({ code: "EIO" });
    // RUNNING -> STOP quiesced P2P, then the stop failed: P2P was resumed again.
    expect(d.calls).toEqual(["quiesceP2P", "stop", "resumeP2P"]);
    expect(d.getState()).toBe(MigState.RUNNING);
    expect(d.running).toBe(true);
  });

  it("PRE_COPY -> STOP_COPY whose save fails restarts the stopped device", async () => {
    const d = new ToyDriver(MigFlags.STOP_COPY | MigFlags.PRE_COPY);
    await driveTransition(d, MigState.PRE_COPY);
    d.failHook = "save(true)";
    await expect(d.setState(MigState.STOP_COPY)).rejects.toMatchObject({ code: "EIO" });
    expect(d.getState()).toBe(MigState.PRE_COPY);
    expect(d.running).toBe(true);
    expect(d.calls.slice(-5)).toEqual(["quiesceP2P", "stop", "save(true)", "start", "resumeP2P"]);
  });

  it("a hook that says the device broke moves it to ERROR; only reset leaves ERROR", async () => {
    const d = new ToyDriver();
    await driveTransition(d, MigState.PRE_COPY);
    d.failHook = "stop";
    d.failBreaksDevice = true;
    await expect(driveTransition(d, MigState.STOP_COPY)).rejects.toMatchObject({ code: "EIO" });
    expect(d.getState()).toBe(MigState.ERROR);
    await expect(d.setState(MigState.RUNNING)).rejects.toMatchObject({ code: "EINVAL" });
    d.failHook = undefined;
    await d.reset();
    expect(d.getState()).toBe(MigState.RUNNING);
  });
});

describe("AbstractVendorDriver: saving streams", () => {
  it("PRE_COPY: initial bytes, temporary end (ENOMSG), then STOP_COPY rest and a permanent end", async () => {
    const d = new ToyDriver(MigFlags.STOP_COPY | MigFlags.PRE_COPY);
    d.counter = 7;
    const { stream } = await driveTransition(d, MigState.PRE_COPY);
    if (!stream) throw new Error("PRE_COPY must open a stream");
    expect(await d.precopyInfo()).toEqual({ initialBytes: 4, dirtyBytes: 0 });
    expect(new TextDecoder().decode(await stream.read(4))).toBe("TOY1");
    expect(await d.precopyInfo()).toEqual({ initialBytes: 0, dirtyBytes: 0 });
    await expect(stream.read(4)).rejects.toMatchObject({ code: "ENOMSG" });
    d.tick();
    const { stream: again } = await driveTransition(d, MigState.STOP_COPY);
    expect(again).toBeUndefined(); // the same stream continues
    const rest = await readAll(stream);
    expect(new DataView(rest.buffer, rest.byteOffset).getUint32(0, true)).toBe(8);
    expect((await stream.read(4)).length).toBe(0);
    await driveTransition(d, MigState.STOP);
    await expect(stream.read(4)).rejects.toMatchObject({ code: "ENODEV" });
  });

  it("precopy info is EINVAL outside PRE_COPY states", async () => {
    const d = new ToyDriver();
    await expect(d.precopyInfo()).rejects.toMatchObject({ code: "EINVAL" });
    await driveTransition(d, MigState.STOP_COPY);
    await expect(d.precopyInfo()).rejects.toMatchObject({ code: "EINVAL" });
  });

  it("leaving PRE_COPY for RUNNING ends the session (ENODEV)", async () => {
    const d = new ToyDriver();
    const { stream } = await driveTransition(d, MigState.PRE_COPY);
    await driveTransition(d, MigState.RUNNING);
    await expect(stream?.read(1)).rejects.toMatchObject({ code: "ENODEV" });
  });

  it("STOP -> STOP_COPY yields the full state; a stream cannot be written", async () => {
    const d = new ToyDriver();
    d.counter = 3;
    const { stream } = await driveTransition(d, MigState.STOP_COPY);
    if (!stream) throw new Error("STOP_COPY must open a stream");
    await expect(stream.write(new Uint8Array(1))).rejects.toMatchObject({ code: "EINVAL" });
    expect(await d.getDataSize()).toBeGreaterThanOrEqual((await readAll(stream)).length);
  });
});

describe("AbstractVendorDriver: resuming streams", () => {
  async function saved(counter: number): Promise<Uint8Array> {
    const d = new ToyDriver();
    d.counter = counter;
    const { stream } = await driveTransition(d, MigState.STOP_COPY);
    return readAll(stream as MigrationDataStream);
  }

  it("accepts any chunking, down to one byte, and applies on RESUMING -> STOP", async () => {
    const bytes = await saved(42);
    const t = new ToyDriver();
    const { stream } = await driveTransition(t, MigState.RESUMING);
    for (const b of bytes) await stream?.write(Uint8Array.of(b));
    await expect(stream?.read(1)).rejects.toMatchObject({ code: "EINVAL" });
    await driveTransition(t, MigState.STOP);
    expect(t.counter).toBe(42);
    await expect(stream?.write(Uint8Array.of(0))).rejects.toMatchObject({ code: "ENODEV" });
  });

  it("refuses a bad prefix as soon as it arrives", async () => {
    const t = new ToyDriver();
    const { stream } = await driveTransition(t, MigState.RESUMING);
    await stream?.write(new TextEncoder().encode("TO"));
    await expect(stream?.write(new TextEncoder().encode("YX"))).rejects.toThrow(/bad magic/);
  });

  it("refuses more bytes than the device's maximum state (E2BIG)", async () => {
    const t = new ToyDriver();
    const { stream } = await driveTransition(t, MigState.RESUMING);
    await expect(stream?.write(new Uint8Array(65).fill(0x54))).rejects.toMatchObject({
      code: "E2BIG",
    });
  });

  it("incomplete data fails RESUMING -> STOP and nothing is applied", async () => {
    const bytes = await saved(9);
    const t = new ToyDriver();
    t.counter = 5;
    const { stream } = await driveTransition(t, MigState.RESUMING);
    await stream?.write(bytes.subarray(0, 6));
    await expect(driveTransition(t, MigState.STOP)).rejects.toMatchObject({ code: "EINVAL" });
    expect(t.getState()).toBe(MigState.RESUMING);
    expect(t.counter).toBe(5);
  });

  it("reset disables an open stream and returns to RUNNING", async () => {
    const t = new ToyDriver();
    const { stream } = await driveTransition(t, MigState.RESUMING);
    await t.reset();
    expect(t.getState()).toBe(MigState.RUNNING);
    await expect(stream?.write(Uint8Array.of(1))).rejects.toMatchObject({ code: "ENODEV" });
  });
});

describe("AbstractVendorDriver: logging and config space", () => {
  it("DMA logging: validates ranges, refuses a second start, tolerates stop when off", async () => {
    const d = new ToyDriver();
    await d.logStop();
    await expect(d.logStart([], 4096)).rejects.toMatchObject({ code: "EINVAL" });
    await expect(d.logStart([{ iova: 0x1000, length: 0x800 }], 4096)).rejects.toMatchObject({
      code: "EINVAL",
    });
    expect(await d.logStart([{ iova: 0, length: 0x10000 }], 4096)).toBe(4096);
    await expect(d.logStart([{ iova: 0, length: 0x10000 }], 4096)).rejects.toMatchObject({
      code: "EINVAL",
    });
    await expect(d.logReadAndClear(0, 0x10000, 2048, new BigUint64Array(1))).rejects.toMatchObject({
      code: "EINVAL",
    });
    await expect(
      d.logReadAndClear(0, 0x10000 * 64 * 2, 4096, new BigUint64Array(1)),
    ).rejects.toMatchObject({ code: "EINVAL" });
    await d.logReadAndClear(0, 0x10000, 4096, new BigUint64Array(1));
    await d.logStop();
    await expect(d.logReadAndClear(0, 0x10000, 4096, new BigUint64Array(1))).rejects.toMatchObject({
      code: "EINVAL",
    });
  });

  it("DMA logging is ENOTSUP for a device that tracks dirty pages another way", async () => {
    const d = new ToyDriver(MigFlags.STOP_COPY, "vendor-bitmap");
    await expect(d.logStart([{ iova: 0, length: 4096 }], 4096)).rejects.toMatchObject({
      code: "ENOTSUP",
    });
  });

  it("config space accesses are bounded", () => {
    const d = new ToyDriver();
    d.configWrite(0, Uint8Array.of(0x86, 0x80));
    expect([...d.configRead(0, 2)]).toEqual([0x86, 0x80]);
    expect(() => d.configRead(250, 8)).toThrow(/outside the 256-byte space/);
    expect(() => d.configWrite(-1, Uint8Array.of(1))).toThrow(MdevError);
  });

  it("the inert context helper is a valid DeviceContext", () => {
    expect(inertContext().slot).toBe("00:04.0");
  });
});
