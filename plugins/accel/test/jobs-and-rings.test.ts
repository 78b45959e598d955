import { createDecipheriv, createHash } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  computeOutput,
  JobOp,
  MAX_SERVICE_TICKS,
  opOf,
  Ring,
  restoreRequestRing,
  restoreResponseRing,
  serviceTicks,
  sourcePattern,
  statOf,
} from "../src/index.js";

describe("jobs", () => {
  const src = sourcePattern(3, 77, 4096);

  it("sources are deterministic per (seed, job) and differ between jobs", () => {
    expect(sourcePattern(3, 77, 4096)).toEqual(src);
    expect(sourcePattern(3, 78, 4096)).not.toEqual(src);
    expect(sourcePattern(4, 77, 4096)).not.toEqual(src);
  });

  it("COMPRESS is real raw deflate that shrinks the source and inflates back", () => {
    const out = computeOutput(JobOp.COMPRESS, 77, src);
    expect(out.byteLength).toBeLessThan(src.byteLength / 2);
    expect(new Uint8Array(inflateRawSync(out))).toEqual(src);
  });

  it("ENCRYPT is AES-128-CTR under a key derived from the job id", () => {
    const out = computeOutput(JobOp.ENCRYPT, 77, src);
    expect(out.byteLength).toBe(src.byteLength);
    const m = createHash("sha256").update("accel-job-key:77").digest();
    const d = createDecipheriv("aes-128-ctr", m.subarray(0, 16), m.subarray(16, 32));
    expect(new Uint8Array(Buffer.concat([d.update(out), d.final()]))).toEqual(src);
    expect(computeOutput(JobOp.ENCRYPT, 78, src)).not.toEqual(out);
  });

  it("HASH is SHA-256", () => {
    expect(Buffer.from(computeOutput(JobOp.HASH, 1, src)).toString("hex")).toBe(
      createHash("sha256").update(src).digest("hex"),
    );
  });

  it("service times and ops are pure functions of the job id, in range", () => {
    for (let id = 0; id < 2000; id++) {
      expect(serviceTicks(id)).toBe(serviceTicks(id));
      expect(serviceTicks(id)).toBeGreaterThanOrEqual(1);
      expect(serviceTicks(id)).toBeLessThanOrEqual(MAX_SERVICE_TICKS);
      expect([1, 2, 3]).toContain(opOf(id));
    }
  });

  it("a 64 KiB heavy-profile job computes the same bytes twice", () => {
    const big = sourcePattern(1, 5, 65536);
    for (const op of [JobOp.COMPRESS, JobOp.ENCRYPT, JobOp.HASH])
      expect(computeOutput(op, 5, big)).toEqual(computeOutput(op, 5, big));
  });
});

/** A consistent saved ring: pointers below depth, `full` only when head = tail. */
const savedRing = fc
  .record({
    depth: fc.integer({ min: 2, max: 64 }),
    head: fc.nat(),
    tail: fc.nat(),
    full: fc.boolean(),
    phase: fc.integer({ min: 0, max: 1 }),
  })
  .map((r) => {
    const head = r.head % r.depth;
    const full = r.full && r.tail % 2 === 0;
    return {
      baseGpa: 0x1000,
      depth: r.depth,
      head,
      tail: full ? head : r.tail % r.depth,
      full,
      phase: r.phase,
    };
  });

describe("ring restore with QAT's empty/full fix-ups", () => {
  it("a request ring comes back with the saved pointers and status (property)", () => {
    fc.assert(
      fc.property(savedRing, (s) => {
        const r = new Ring(s.baseGpa, s.depth);
        restoreRequestRing(r, s, () => {});
        expect(r.snapshot()).toEqual(s);
        expect(r.stat()).toEqual(statOf(s));
      }),
    );
  });

  it("a response ring comes back with the saved pointers and status (property)", () => {
    fc.assert(
      fc.property(savedRing, (s) => {
        const r = new Ring(s.baseGpa, s.depth);
        restoreResponseRing(r, s, () => {});
        expect(r.snapshot()).toEqual(s);
      }),
    );
  });

  it("without the fix-up an empty ring would come back full (what the fix-up guards)", () => {
    const r = new Ring(0x1000, 8);
    r.writeHead(5);
    r.writeTail(5);
    expect(r.stat().full).toBe(true);
    const fixed = new Ring(0x1000, 8);
    const steps: string[] = [];
    restoreRequestRing(
      fixed,
      { baseGpa: 0x1000, depth: 8, head: 5, tail: 5, full: false, phase: 1 },
      (s) => steps.push(s),
    );
    expect(fixed.stat().empty).toBe(true);
    expect(steps).toEqual(["head", "tail", "head(empty fix-up)"]);
  });

  it("a full response ring needs the second tail write", () => {
    const steps: string[] = [];
    const r = new Ring(0x1000, 8);
    restoreResponseRing(
      r,
      { baseGpa: 0x1000, depth: 8, head: 3, tail: 3, full: true, phase: 0 },
      (s) => steps.push(s),
    );
    expect(r.stat().full).toBe(true);
    expect(steps).toEqual(["tail", "head", "tail(full fix-up)"]);
  });
});
