import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StateError, StateReader, StateWriter } from "../../src/state/index.js";

function sample(): Uint8Array {
  return new StateWriter()
    .section("header", 1, (f) => f.u32(0x4d545459).u16(2))
    .section("port0", 3, (f) => f.bytes(new Uint8Array(36).fill(7)).string("ttyS0"))
    .section("extra", 1, (f) => f.u64(42n), { optional: true })
    .finish();
}

/** Reads every section and every field the way a plugin would. */
function readAll(b: Uint8Array): void {
  for (const s of new StateReader(b, {
    sections: { header: 1, port0: 3 },
    maxSectionLength: 1024,
  })) {
    if (s.tag === "header") {
      s.fields.u32();
      s.fields.u16();
    } else {
      s.fields.bytes(64);
      s.fields.string(16);
    }
    s.fields.end();
  }
}

describe("StateReader on damaged input", () => {
  it("every truncation is a typed StateError", () => {
    const b = sample();
    for (let cut = 0; cut < b.byteLength; cut++) {
      expect(() => readAll(b.subarray(0, cut)), `cut at ${cut}`).toThrow(StateError);
    }
  });

  it("every single-bit flip is a typed StateError", () => {
    const b = sample();
    for (let bit = 0; bit < b.byteLength * 8; bit++) {
      const c = b.slice();
      c[bit >> 3] = (c[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      let err: unknown;
      try {
        readAll(c);
      } catch (e) {
        err = e;
      }
      // A flip in the optional section's payload is caught by its CRC only if read; skipped
      // sections are still CRC-checked, so every flip is caught.
      expect(err, `bit ${bit}`).toBeInstanceOf(StateError);
    }
  });

  it("random bytes never raise anything but StateError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (junk, withHeader) => {
        const b = withHeader ? new Uint8Array([...sample().subarray(0, 12), ...junk]) : junk;
        try {
          readAll(b);
        } catch (e) {
          expect(e).toBeInstanceOf(StateError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("a section longer than the limit is refused before its payload is read", () => {
    const big = new StateWriter().section("port0", 3, (f) => f.raw(new Uint8Array(2048))).finish();
    expect(() => readAll(big)).toThrow(
      expect.objectContaining({ code: "E2BIG", rule: "section-length" }),
    );
  });

  it("field reads past the section end are bounds errors", () => {
    const b = new StateWriter().section("header", 1, (f) => f.u16(1)).finish();
    const [s] = [...new StateReader(b, { sections: { header: 1 } })];
    expect(() => s?.fields.u32()).toThrow(
      expect.objectContaining({ code: "EBADMSG", rule: "field-bounds", tag: "header" }),
    );
  });
});
