import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/index.js";
import { StateError, StateReader, StateWriter } from "../../src/state/index.js";

// A "newer plugin" wrote these; an older reader knows only "regs" up to v2.
function newerStream(): Uint8Array {
  return new StateWriter()
    .section("regs", 2, (f) => f.u32(0xdeadbeef))
    .section("telemetry", 7, (f) => f.bytes(new Uint8Array(100)), { optional: true })
    .section("tail", 1, (f) => f.u8(9))
    .finish();
}

describe("StateReader compatibility rules", () => {
  it("skips unknown optional sections and reports them", () => {
    const skipped: string[] = [];
    const r = new StateReader(newerStream(), {
      sections: { regs: 2, tail: 1 },
      onSkip: (t, v) => skipped.push(`${t}@${v}`),
    });
    const tags = [...r].map((s) => s.tag);
    expect(tags).toEqual(["regs", "tail"]);
    expect(skipped).toEqual(["telemetry@7"]);
  });

  it("rejects an unknown mandatory section, naming it", () => {
    const r = new StateReader(newerStream(), { sections: { regs: 2 } });
    let err: unknown;
    try {
      for (const _ of r);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateError);
    expect(err).toBeInstanceOf(StreamError);
    expect(err).toMatchObject({
      code: "EPROTO",
      rule: "unknown-mandatory",
      tag: "tail",
      recordType: "tail",
    });
  });

  it("rejects a section newer than the reader supports, naming tag and both versions", () => {
    const r = new StateReader(newerStream(), { sections: { regs: 1, tail: 1 } });
    expect(() => [...r]).toThrow(
      expect.objectContaining({
        code: "EPROTO",
        rule: "newer-version",
        tag: "regs",
        version: 2,
        supported: 1,
      }),
    );
  });

  it("accepts an older section version (the reader handles it)", () => {
    const r = new StateReader(newerStream(), { sections: { regs: 5, tail: 3 } });
    expect([...r].map((s) => s.version)).toEqual([2, 1]);
  });

  it("rejects a stream with unknown flag bits or a foreign header", () => {
    const b = newerStream();
    const flags = 12 + 1 + 4 + 2; // header, tag length, "regs", version → flags
    const bad = b.slice();
    bad[flags] = 0x80;
    expect(() => [...new StateReader(bad, { sections: { regs: 2, tail: 1 } })]).toThrow(
      expect.objectContaining({ rule: "flags" }),
    );
    const foreign = b.slice();
    foreign[0] = 0;
    expect(() => [...new StateReader(foreign, { sections: {} })]).toThrow(
      expect.objectContaining({ rule: "magic" }),
    );
    const future = b.slice();
    future[4] = 9;
    expect(() => [...new StateReader(future, { sections: {} })]).toThrow(
      expect.objectContaining({ rule: "version", version: 9, supported: 1 }),
    );
  });
});
