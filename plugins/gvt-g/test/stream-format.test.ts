import { loadDevice } from "@mdevkit/conformance";
import { MigState, StateWriter } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import {
  checkCompatible,
  compatOf,
  decodeStream,
  encodeCompat,
  pteOf,
  splitDocs,
  vgpuTypeOf,
  withStreamVersion,
} from "../src/index.js";
import { GTT_WINDOW_OFFSET } from "../src/registers.js";
import { gvtgHarness, streamOf, ticks } from "./helpers.js";

const TEST = vgpuTypeOf("GVTg_TEST");

async function savedDevice(options: Record<string, unknown> = {}, n = 80) {
  const h = await gvtgHarness({ options });
  ticks(h.driver, n);
  return { h, bytes: await streamOf(h.driver) };
}

describe("stream format", () => {
  it("round trip: the decoded image equals the source's snapshot", async () => {
    const { h, bytes } = await savedDevice();
    const { image, compat } = decodeStream(bytes, TEST);
    expect(compat.streamVersion).toBe(2);
    expect(image).toEqual(h.driver.vgpu.snapshot());
  });

  it("a snapshot copies the GGTT unless asked for the live table (an image encoded at once)", async () => {
    const { h } = await savedDevice();
    const table = h.driver.vgpu.ggtt.virtual;
    const copied = h.driver.vgpu.snapshot();
    expect(copied.ggtt).not.toBe(table);
    expect(copied.ggtt).toEqual(table);
    expect(h.driver.vgpu.snapshot({ liveGgtt: true }).ggtt).toBe(table);
  });

  it("PRE_COPY stream: compat, whole GGTT, deltas, then the STOP_COPY document", async () => {
    const { bytes } = await savedDevice();
    const docs = splitDocs(bytes);
    expect(docs.length).toBeGreaterThanOrEqual(3);
    // The compat document is first and alone.
    expect(docs[0]!.byteLength).toBe(encodeCompat(compatOf(TEST)).byteLength);
  });

  it("GGTT rewrites during PRE_COPY travel as deltas and land on the target", async () => {
    const src = await gvtgHarness();
    ticks(src.driver, 10);
    const stream = await src.driver.setState(MigState.PRE_COPY);
    const first = await stream!.read(1 << 20);
    const v = src.driver.vgpu;
    const index = v.layout.poolIndex + 1;
    src.driver.guestGgttWrite(index, ...pteOf(v.layout.poolGfn + 33));
    const info = await src.driver.precopyInfo();
    expect(info.dirtyBytes).toBeGreaterThan(0);
    const delta = await stream!.read(1 << 20);
    await src.driver.setState(MigState.STOP_COPY);
    const rest = await stream!.read(1 << 20);
    const all = new Uint8Array([...first, ...delta, ...rest]);
    expect(splitDocs(all).length).toBe(4);
    const dst = await gvtgHarness();
    await loadDevice(dst.driver, all);
    expect(dst.driver.vgpu.ggtt.gfn(index)).toBe(v.layout.poolGfn + 33);
    expect(Array.from(dst.driver.vgpu.ggtt.virtual)).toEqual(Array.from(v.ggtt.virtual));
  });

  it("v2 carries a half-written PTE; a v1 stream loads on a v2 target without it", async () => {
    for (const version of [2, 1]) {
      const src = await gvtgHarness({ options: { streamVersion: version } });
      ticks(src.driver, 5);
      const v = src.driver.vgpu;
      const index = v.layout.poolIndex + 2;
      src.driver.guestMmioWrite(GTT_WINDOW_OFFSET + index * 8, pteOf(v.layout.poolGfn + 50)[0]);
      const bytes = await streamOf(src.driver);
      const dst = await gvtgHarness(); // a v2 target
      await loadDevice(dst.driver, bytes);
      const partial = dst.driver.vgpu.ggtt.partial;
      if (version === 2) expect(partial.get(index)).toBe(v.ggtt.partial.get(index));
      else expect(partial.size).toBe(0);
      expect(Array.from(dst.driver.vgpu.ggtt.virtual)).toEqual(Array.from(v.ggtt.virtual));
      expect(dst.driver.getState()).toBe(MigState.STOP);
    }
  });

  it("a v1 reader skips the optional partial-PTE section of a v2 stream", async () => {
    const { bytes } = await savedDevice();
    const docs = splitDocs(bytes);
    const last = docs[docs.length - 1]!;
    const { StateReader } = await import("@mdevkit/core");
    const skipped: string[] = [];
    const v1Tags = {
      ggtt: 1,
      "ggtt-delta": 1,
      cfg: 1,
      sreg: 1,
      vreg: 1,
      fence: 1,
      ppgtt: 1,
      execlist: 1,
      workloads: 1,
      display: 1,
      opregion: 1,
      end: 1,
    };
    for (const _ of new StateReader(last, { sections: v1Tags, onSkip: (t) => skipped.push(t) })) {
      // reading every known section is enough
    }
    expect(skipped).toEqual(["partial-ptes"]);
  });

  it("refuses truncation, a flipped bit, a missing end and a newer stream version", async () => {
    const { bytes } = await savedDevice();
    const refuse = (b: Uint8Array) =>
      expect(() => decodeStream(b, TEST)).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/EBADMSG|EPROTO|E2BIG/) }),
      );
    refuse(bytes.subarray(0, bytes.byteLength - 1));
    const docs = splitDocs(bytes);
    refuse(bytes.subarray(0, bytes.byteLength - docs[docs.length - 1]!.byteLength));
    const flipped = bytes.slice();
    flipped[Math.floor(bytes.byteLength / 2)]! ^= 0x10;
    refuse(flipped);
    refuse(withStreamVersion(bytes, 3));
    // An unknown mandatory section (what a newer build might add) is refused.
    const extra = new StateWriter().section("gvt-future", 1, (f) => f.u32(1)).finish();
    refuse(new Uint8Array([...bytes, ...extra]));
  });

  it("a stream for another vGPU type is refused: GGTT size and compat both checked", async () => {
    const { bytes } = await savedDevice();
    expect(() => decodeStream(bytes, vgpuTypeOf("GVTg_V5_8"))).toThrow(/vGPU type GVTg_TEST/);
    const fewerFences = { ...TEST, fences: 2 };
    expect(() => decodeStream(bytes, fewerFences)).toThrow(/4 fences/);
  });

  it("checkCompatible refuses another type, fence count, generation, engine set or stream version", () => {
    const blob = (c: Partial<ReturnType<typeof compatOf>>) =>
      encodeCompat({ ...compatOf(TEST), ...c });
    const verdict = (compatibility: Uint8Array, deviceType = "GVTg_TEST") =>
      checkCompatible({ plugin: "gvt-g", pluginVersion: "0.1.0", deviceType, compatibility });
    expect(verdict(blob({}))).toEqual({ compatible: true });
    expect(verdict(blob({}), "GVTg_V5_4")).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/type GVTg_TEST/),
    });
    expect(verdict(blob({ fences: 8 }))).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/8 fences/),
    });
    expect(verdict(blob({ gen: 11 }))).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/generation 11/),
    });
    expect(verdict(blob({ engines: ["rcs0"] }))).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/engines/),
    });
    expect(verdict(blob({ streamVersion: 3 }))).toMatchObject({
      compatible: false,
      reason: expect.stringMatching(/stream version 3/),
    });
    expect(verdict(blob({ streamVersion: 1 }))).toEqual({ compatible: true });
    expect(verdict(new Uint8Array([1, 2, 3]))).toMatchObject({ compatible: false });
    expect(
      checkCompatible({
        plugin: "mtty",
        pluginVersion: "0.1.0",
        deviceType: "GVTg_TEST",
        compatibility: blob({}),
      }).compatible,
    ).toBe(false);
  });

  it("a target refuses an incompatible compat record on the write that completes it", async () => {
    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const stream = await dst.driver.setState(MigState.RESUMING);
    const other = encodeCompat({ ...compatOf(TEST), fences: 8 });
    await expect(stream!.write(other)).rejects.toMatchObject({ code: "EPROTO" });
  });
});
