import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StateReader, StateWriter } from "../../src/state/index.js";

describe("StateWriter/StateReader round trip", () => {
  it("every typed field comes back as written, section by section", () => {
    const sectionArb = fc.record({
      u8: fc.integer({ min: 0, max: 0xff }),
      u16: fc.integer({ min: 0, max: 0xffff }),
      u32: fc.integer({ min: 0, max: 0xffff_ffff }),
      u64: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      bytes: fc.uint8Array({ maxLength: 300 }),
      text: fc.string({ maxLength: 40 }),
      version: fc.integer({ min: 1, max: 5 }),
      optional: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(sectionArb, { maxLength: 6 }), (sections) => {
        const w = new StateWriter();
        for (const [i, s] of sections.entries())
          w.section(
            `s${i}`,
            s.version,
            (f) => f.u8(s.u8).u16(s.u16).u32(s.u32).u64(s.u64).bytes(s.bytes).string(s.text),
            {
              optional: s.optional,
            },
          );
        const known = Object.fromEntries(sections.map((_, i) => [`s${i}`, 5]));
        const read = [...new StateReader(w.finish(), { sections: known })];
        expect(read.map((r) => r.tag)).toEqual(sections.map((_, i) => `s${i}`));
        for (const [i, r] of read.entries()) {
          const s = sections[i];
          if (!s) throw new Error("missing");
          const f = r.fields;
          expect([r.version, r.optional]).toEqual([s.version, s.optional]);
          expect([f.u8(), f.u16(), f.u32(), f.u64(), [...f.bytes()], f.string()]).toEqual([
            s.u8,
            s.u16,
            s.u32,
            s.u64,
            [...s.bytes],
            s.text,
          ]);
          f.end();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("toMap gives sections by tag and refuses a repeated tag", () => {
    const w = new StateWriter().section("a", 1, (f) => f.u8(1)).section("b", 1, (f) => f.u8(2));
    const m = new StateReader(w.finish(), { sections: { a: 1, b: 1 } }).toMap();
    expect(m.get("b")?.fields.u8()).toBe(2);
    const dup = new StateWriter().section("a", 1, (f) => f.u8(1)).section("a", 1, (f) => f.u8(2));
    expect(() => new StateReader(dup.finish(), { sections: { a: 1 } }).toMap()).toThrow(
      expect.objectContaining({ rule: "duplicate-section", code: "EPROTO" }),
    );
  });

  it("writers refuse bad metadata and out-of-range values with EINVAL", () => {
    expect(() => new StateWriter().section("Bad Tag", 1, () => {})).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(() => new StateWriter().section("ok", 0, () => {})).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(() => new StateWriter().section("ok", 1, (f) => f.u8(256))).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
    expect(() => new StateWriter().section("ok", 1, (f) => f.u32(-1))).toThrow(
      expect.objectContaining({ code: "EINVAL" }),
    );
  });
});
