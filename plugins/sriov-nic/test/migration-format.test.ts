import { isMdevError, StateWriter } from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compatInfoFor,
  DEFAULT_PF_CAPABILITIES,
  decodeCompatImage,
  decodeStream,
  describeNicState,
  encodeCompatImage,
  encodeConfigImage,
  encodeFinalImage,
  incompatibility,
  type NicState,
  nicInvariants,
  splitImages,
} from "../src/index.js";
import { PF, rig } from "./fakes.js";

function busyState(): NicState {
  const { device, guest } = rig();
  for (let t = 0; t < 30; t++) {
    guest.tick();
    device.tick();
  }
  return device.state;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

const compat = () => encodeCompatImage(compatInfoFor(DEFAULT_PF_CAPABILITIES), PF);

describe("stream v1: images of core state sections", () => {
  it("round trip: compat + final image decode to an equal state", () => {
    const s = busyState();
    const decoded = decodeStream(concat(compat(), encodeFinalImage(s, PF, true)));
    expect(describeNicState(decoded.state)).toEqual(describeNicState(s));
    expect(decoded.pf).toEqual(PF);
    expect(nicInvariants(decoded.state)).toEqual([]);
  });

  it("round trip with precopy: config image first, final image without config", () => {
    const s = busyState();
    const bytes = concat(compat(), encodeConfigImage(s), encodeFinalImage(s, PF, false));
    expect(splitImages(bytes)).toHaveLength(3);
    expect(describeNicState(decodeStream(bytes).state)).toEqual(describeNicState(s));
  });

  it("a later config image replaces an earlier one", () => {
    const s = busyState();
    const old = encodeConfigImage({ ...s, filters: { ...s.filters, mcHashes: [1, 2, 3] } });
    const bytes = concat(compat(), old, encodeConfigImage(s), encodeFinalImage(s, PF, false));
    expect(decodeStream(bytes).state.filters.mcHashes).toEqual(s.filters.mcHashes);
  });

  it("refuses every strict prefix and every flipped byte with a typed error (property)", () => {
    const s = busyState();
    const good = concat(compat(), encodeConfigImage(s), encodeFinalImage(s, PF, false));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: good.byteLength - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, x) => {
          const cut = good.subarray(0, at);
          const flipped = good.slice();
          flipped[at]! ^= x;
          for (const bad of [cut, flipped]) {
            let err: unknown;
            try {
              decodeStream(bad);
            } catch (e) {
              err = e;
            }
            expect(isMdevError(err), `offset ${at}`).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("version skew: a newer section version and an unknown mandatory section are refused, an unknown optional one skipped", () => {
    const s = busyState();
    const final = encodeFinalImage(s, PF, true);
    const newer = new StateWriter().section("image", 2, (f) => f.u8(2)).finish();
    expect(() => decodeStream(concat(compat(), newer))).toThrow(
      /v2, this reader supports up to v1/,
    );
    const withUnknown = (optional: boolean) => {
      const w = new StateWriter();
      w.section("image", 1, (f) => f.u8(1));
      w.section("flow-director", 1, (f) => f.u32(7), { optional });
      return w.finish();
    };
    expect(() => decodeStream(concat(compat(), withUnknown(false), final))).toThrow(
      /unknown mandatory section/,
    );
    expect(
      describeNicState(decodeStream(concat(compat(), withUnknown(true), final)).state),
    ).toEqual(describeNicState(s));
  });

  it("stream major 2 and a bigger VF are incompatible; the compat image survives a round trip", () => {
    const info = compatInfoFor(DEFAULT_PF_CAPABILITIES);
    expect(decodeCompatImage(compat()).info).toEqual(info);
    expect(incompatibility({ ...info, major: 2 }, false, DEFAULT_PF_CAPABILITIES)).toMatch(
      /major 2/,
    );
    expect(incompatibility({ ...info, queuePairs: 4 }, false, DEFAULT_PF_CAPABILITIES)).toMatch(
      /4 queue pairs/,
    );
    expect(incompatibility(info, true, { ...DEFAULT_PF_CAPABILITIES, allowTrust: false })).toMatch(
      /trusted/,
    );
    expect(incompatibility(info, false, { ...DEFAULT_PF_CAPABILITIES, features: 0 })).toMatch(
      /lacks feature/,
    );
    expect(incompatibility(info, false, DEFAULT_PF_CAPABILITIES)).toBeUndefined();
  });

  it("refuses inconsistent values that pass the CRC: a mailbox whose bits contradict its in-flight kind, a head past the ring", () => {
    const s = busyState();
    const badMbx = {
      ...s,
      mailbox: { ...s.mailbox, inFlight: "vf-to-pf" as const, ctrl: 0, reqTick: 0 },
    };
    expect(() => decodeStream(concat(compat(), encodeFinalImage(badMbx, PF, true)))).toThrow(
      /contradicts/,
    );
    const badRing = { ...s, rx: [{ ...s.rx[0], head: 5000 }, s.rx[1]] as NicState["rx"] };
    expect(() => decodeStream(concat(compat(), encodeFinalImage(badRing, PF, true)))).toThrow(
      /outside/,
    );
    expect(() =>
      decodeStream(concat(compat(), encodeFinalImage(s, PF, true), encodeConfigImage(s))),
    ).toThrow(/after the final/);
    expect(() => decodeStream(concat(compat(), encodeConfigImage(s)))).toThrow(
      /before its final image/,
    );
  });
});
