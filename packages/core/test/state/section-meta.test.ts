import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StateReader, StateWriter } from "../../src/state/index.js";
import { isSectionMeta, sectionMetaSchema } from "../../src/state/state-format.js";

/** Tags near the rule's edges: valid ones, 47–49 chars, bad first chars, other alphabets. */
const tagArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,47}$/),
  fc.stringMatching(/^[a-z0-9._A-Z -]{0,50}$/),
  fc.string({ maxLength: 52 }),
  fc.constantFrom("", "a".repeat(48), "a".repeat(49), "-a", ".a", "a\n", "ä", "a b"),
);

/** Numbers near the 16-bit bounds, and the ones that are not integers at all. */
const numberArb = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.integer({ min: 0xfffd, max: 0x10002 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5, 1.5, 2 ** 53),
);

describe("section metadata check", () => {
  it("isSectionMeta answers exactly as sectionMetaSchema does", () => {
    fc.assert(
      fc.property(tagArb, numberArb, numberArb, (tag, version, flags) => {
        const zod = sectionMetaSchema.safeParse({ tag, version, flags }).success;
        expect(isSectionMeta(tag, version, flags)).toBe(zod);
      }),
      { numRuns: 5000 },
    );
  });

  it("a refused section still says which rule it broke", () => {
    expect(() => new StateWriter().section("Bad Tag", 1, () => {})).toThrow(
      /tag must be 1–48 chars/,
    );
    expect(() => new StateWriter().section("ok", 0x10000, () => {})).toThrow(/section "ok"/);
    const w = new StateWriter();
    w.section("regs", 1, (f) => f.u8(1));
    const bytes = w.finish();
    // "regs" → "rEgs": a tag the rule refuses, found before the CRC is checked.
    bytes[12 + 2] = 0x45;
    expect(() => [...new StateReader(bytes, { sections: { regs: 1 } })]).toThrow(
      expect.objectContaining({
        rule: "section-meta",
        message: expect.stringMatching(/tag must be/),
      }),
    );
  });
});
