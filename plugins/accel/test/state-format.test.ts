import { loadDevice, reach, saveDevice } from "@mdevkit/conformance";
import { MdevError, MigState, StateError } from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACC_DEV_MAGIC_V1,
  compatOf,
  createAccelPlugin,
  decodeCompat,
  decodeStream,
  describeAccel,
  encodeCompat,
  eqcDwords,
  imageLength,
  PERSONALITIES,
  PROFILES,
  QmState,
  rewriteStateVersion,
  v1BuggyBase,
} from "../src/index.js";
import { drainGuest, makeHarness, ticks } from "./helpers.js";

const hisi = PERSONALITIES[0]!;
const decodeCtx = {
  personality: hisi,
  profile: PROFILES.test,
  v1Streams: "fixup" as const,
  guestBytes: 2 << 20,
};

async function savedBusy(options: Record<string, unknown> = {}) {
  const h = await makeHarness({ options });
  ticks(h.driver, 50);
  const saved = await saveDevice(h.driver);
  return { h, saved };
}

describe("stream v2", () => {
  it("round trips: the target describes like the source", async () => {
    const { h, saved } = await savedBusy();
    const d = decodeStream(saved.bytes, decodeCtx);
    expect(d.version).toBe(2);
    expect(d.fixedUp).toBe(false);
    const t = await makeHarness();
    await reach(t.driver, MigState.STOP);
    await loadDevice(t.driver, saved.bytes);
    expect(describeAccel(t.driver)).toEqual(describeAccel(h.driver));
  });

  it("the PRE_COPY data is exactly the compat record, and it is complete on its own", async () => {
    const { h, saved } = await savedBusy();
    expect(saved.precopy).toEqual(encodeCompat(compatOf(hisi, PROFILES.test, 2)));
    expect(imageLength(saved.precopy)).toBe(saved.precopy.byteLength);
    expect(decodeCompat(saved.precopy).qpNum).toBe(4);
    h.dispose();
  });

  it("refuses a flipped byte anywhere with a typed error, before applying anything", async () => {
    const { saved } = await savedBusy();
    fc.assert(
      fc.property(fc.nat(saved.bytes.byteLength - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = saved.bytes.slice();
        bad[at]! ^= x;
        expect(() => decodeStream(bad, decodeCtx)).toThrow(MdevError);
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a stream from a newer build (state section v3) with a StateError naming the versions", async () => {
    const { saved } = await savedBusy();
    const newer = rewriteStateVersion(saved.bytes, 3);
    try {
      decodeStream(newer, decodeCtx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(StateError);
      expect((err as StateError).version).toBe(3);
      expect((err as StateError).supported).toBe(2);
    }
  });

  it("refuses a state section whose version disagrees with the compat magic", async () => {
    const { saved } = await savedBusy();
    expect(() => decodeStream(rewriteStateVersion(saved.bytes, 1), decodeCtx)).toThrow(
      /announces stream v2/,
    );
  });
});

describe("stream v1 (the HiSilicon EQ/AEQ address bug)", () => {
  it("records the EQ base from the wrong dwords, and the compat magic says V1", async () => {
    const { h, saved } = await savedBusy({ streamVersion: 1 });
    expect(decodeCompat(saved.precopy).magic).toBe(ACC_DEV_MAGIC_V1);
    const eq = describeAccel(h.driver).eq;
    const wrong = v1BuggyBase(eqcDwords(eq));
    expect(wrong).not.toBe(BigInt(eq.baseGpa));
    // The wrong base is in the stream as a little-endian u64.
    const needle = new Uint8Array(8);
    new DataView(needle.buffer).setBigUint64(0, wrong, true);
    expect(Buffer.from(saved.bytes).indexOf(Buffer.from(needle))).toBeGreaterThan(0);
  });

  it("loads with the fix-up: the bases are recomputed from dw[2]:dw[1] and the device runs on", async () => {
    const { h, saved } = await savedBusy({ streamVersion: 1 });
    const t = await makeHarness();
    await reach(t.driver, MigState.STOP);
    t.memory.writeUntracked(0, h.memory.read(0, h.memory.size));
    await loadDevice(t.driver, saved.bytes);
    expect(t.driver.lastLoad).toEqual({ version: 1, fixedUp: true });
    expect(describeAccel(t.driver)).toEqual(describeAccel(h.driver));
    await reach(t.driver, MigState.RUNNING);
    drainGuest(t.driver);
    const s = t.driver.guestStats();
    expect(s.completed).toBe(s.submitted);
    expect(s.verifyFailures + s.duplicates + s.orderViolations + s.errors).toBe(0);
  });

  it("is refused by policy as soon as the compat record is written, before any state", async () => {
    const { saved } = await savedBusy({ streamVersion: 1 });
    const t = await makeHarness({ plugin: createAccelPlugin({ v1Streams: "refuse" }) });
    const stream = await reach(t.driver, MigState.RESUMING);
    await expect(stream!.write(saved.precopy)).rejects.toThrow(/refused by policy/);
    expect(t.driver.getState()).toBe(MigState.RESUMING);
  });

  it("a v1 stream whose recorded base does not match its dwords is refused", async () => {
    const { saved } = await savedBusy({ streamVersion: 1 });
    // Rewrite the EQ dword 0 in place: find the dwords after the first ring and bump dw0.
    const d = decodeStream(saved.bytes, decodeCtx);
    expect(d.fixedUp).toBe(true);
    const dw = eqcDwords(d.state.eq);
    const needle = new Uint8Array(28);
    const v = new DataView(needle.buffer);
    dw.forEach((x, i) => {
      v.setUint32(i * 4, x, true);
    });
    const at = Buffer.from(saved.bytes).indexOf(Buffer.from(needle));
    expect(at).toBeGreaterThan(0);
    // Re-encode the state section with the tampered dword so its CRC is valid again.
    const compatLen = imageLength(saved.bytes)!;
    const { StateReader, StateWriter } = await import("@mdevkit/core");
    const sec = new StateReader(saved.bytes.subarray(compatLen), { sections: { "accel.state": 2 } })
      .toMap()
      .get("accel.state")!;
    const payload = sec.fields.raw(sec.fields.remaining).slice();
    const off = at - (saved.bytes.byteLength - payload.byteLength);
    new DataView(payload.buffer).setUint32(off + 4, dw[1]! + 4096, true);
    const image = new StateWriter().section("accel.state", 1, (f) => f.raw(payload)).finish();
    const forged = new Uint8Array(compatLen + image.byteLength);
    forged.set(saved.bytes.subarray(0, compatLen));
    forged.set(image, compatLen);
    expect(() => decodeStream(forged, decodeCtx)).toThrow(/v1 base does not match/);
  });
});

describe("NOT_READY and idempotence", () => {
  it("a VF no guest driver loaded sends only qmState and pendingIrq, and restores nothing", async () => {
    const h = await makeHarness({ options: { workload: false } });
    ticks(h.driver, 10);
    const saved = await saveDevice(h.driver);
    const d = decodeStream(saved.bytes, decodeCtx);
    expect(d.state.qmState).toBe(QmState.NOT_READY);
    const stateImage = saved.bytes.byteLength - imageLength(saved.bytes)!;
    // Image header 12, section header 1 + 11 ("accel.state") + 12, payload 2 bytes.
    expect(stateImage).toBe(12 + 24 + 2);
    const t = await makeHarness({ options: { workload: false } });
    const fresh = describeAccel(t.driver);
    await reach(t.driver, MigState.STOP);
    await loadDevice(t.driver, saved.bytes);
    expect(describeAccel(t.driver)).toEqual(fresh);
    expect(t.pinner?.pinnedPages).toBe(0);
  });

  it("loading the same stream twice, or after a failed load and a reset, gives identical state", async () => {
    const { saved } = await savedBusy();
    const a = await makeHarness();
    await reach(a.driver, MigState.STOP);
    await loadDevice(a.driver, saved.bytes);
    const once = describeAccel(a.driver);
    // Again on the same device: STOP → RESUMING → STOP with the same bytes.
    await loadDevice(a.driver, saved.bytes);
    expect(describeAccel(a.driver)).toEqual(once);
    // A failed load (truncated) leaves RESUMING; reset, then load the good stream.
    const b = await makeHarness();
    await reach(b.driver, MigState.STOP);
    const stream = await reach(b.driver, MigState.RESUMING);
    await stream!.write(saved.bytes.subarray(0, saved.bytes.byteLength - 3));
    await expect(b.driver.setState(MigState.STOP)).rejects.toThrow(MdevError);
    expect(b.driver.getState()).toBe(MigState.RESUMING);
    await b.driver.reset();
    await reach(b.driver, MigState.STOP);
    await loadDevice(b.driver, saved.bytes);
    expect(describeAccel(b.driver)).toEqual(once);
    expect(b.pinner?.pinnedPages).toBe(a.pinner?.pinnedPages);
  });
});

describe("the realistic profile (64 queue pairs of 1024 entries)", () => {
  it("runs, saves within its size bound, and round trips", async () => {
    const h = await makeHarness({ options: { profile: "realistic" }, memoryBytes: 32 << 20 });
    ticks(h.driver, 200);
    const bound = await h.driver.getDataSize();
    const saved = await saveDevice(h.driver);
    expect(saved.stopCopy.byteLength).toBeLessThanOrEqual(bound);
    const t = await makeHarness({ options: { profile: "realistic" }, memoryBytes: 32 << 20 });
    await reach(t.driver, MigState.STOP);
    t.memory.writeUntracked(0, h.memory.read(0, h.memory.size));
    await loadDevice(t.driver, saved.bytes);
    expect(describeAccel(t.driver)).toEqual(describeAccel(h.driver));
    await reach(t.driver, MigState.RUNNING);
    drainGuest(t.driver, 400);
    const s = t.driver.guestStats();
    expect(s.completed).toBe(s.submitted);
    expect(s.duplicates + s.verifyFailures + s.orderViolations + s.errors).toBe(0);
    h.dispose();
    t.dispose();
  });
});
