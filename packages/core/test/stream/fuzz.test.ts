import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StreamError } from "../../src/errors/index.js";
import {
  applyRamRun,
  PAGE_SIZE,
  RecordType,
  StreamDecoder,
  type StreamRecord,
  sha256,
} from "../../src/stream/index.js";
import {
  concat,
  detach,
  encodeScenario,
  fuzzRuns,
  joinStream,
  type RawRecord,
  type Scenario,
  scenarioArb,
  splitStream,
} from "./stream-fixtures.js";

/**
 * Decodes `bytes` (in `chunk`-sized pieces) the way a target would: RAM runs applied to a
 * buffer as they are yielded. Returns the records applied and the error, which must be a
 * StreamError if there is one — any other exception fails the test.
 */
function consume(bytes: Uint8Array, guestPages: number, chunk: number) {
  const dec = new StreamDecoder({ guestPages });
  const ram = new Uint8Array(guestPages * PAGE_SIZE);
  const applied: StreamRecord[] = [];
  try {
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      for (const r of dec.push(bytes.subarray(at, at + chunk))) {
        if (r.type === "RAM_PAGES") applyRamRun(r, ram, PAGE_SIZE);
        applied.push(detach(r));
      }
    }
    dec.finish();
    return { applied, error: undefined };
  } catch (err) {
    if (!(err instanceof StreamError)) throw err;
    expect(err.rule.length).toBeGreaterThan(0);
    expect(err.recordType.length).toBeGreaterThan(0);
    expect(["EBADMSG", "EPROTO", "E2BIG"]).toContain(err.code);
    return { applied, error: err };
  }
}

/** A cheap identity of a record: its fields, with byte arrays replaced by their SHA-256. */
function fingerprint(r: StreamRecord | undefined): string {
  return JSON.stringify(r, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(sha256(v)).toString("hex") : v,
  );
}

/** Everything applied must be, record for record, a prefix of the original stream. */
function expectPrefixOf(applied: readonly StreamRecord[], original: readonly StreamRecord[]): void {
  applied.forEach((r, i) => {
    if (fingerprint(r) !== fingerprint(original[i]))
      throw new Error(`applied record ${i} differs from the original`);
  });
}

const mutatedArb = scenarioArb.chain((s) => {
  const records = encodeScenario(s).map((frames) => concat(frames));
  return fc.record({
    s: fc.constant(s),
    records: fc.constant(records),
    // Mostly realistic chunk sizes; tiny ones now and then to exercise every split point.
    chunk: fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 64 }), weight: 1 },
      { arbitrary: fc.integer({ min: 512, max: 20000 }), weight: 6 },
    ),
    pick: fc.nat(),
    pick2: fc.nat(),
    bit: fc.nat(),
  });
});

function original(s: Scenario, records: readonly Uint8Array[]): StreamRecord[] {
  const r = consume(concat(records), s.guestPages, 1 << 20);
  expect(r.error).toBeUndefined();
  return r.applied;
}

// Each property runs hundreds of cases: a budget for a loaded 2-core machine, not a speed check.
describe("decoder fuzzing: every corruption is a typed StreamError", { timeout: 180_000 }, () => {
  it("truncation at any byte fails unless the cut lands after END on a record boundary", () => {
    fc.assert(
      fc.property(mutatedArb, ({ s, records, chunk, pick }) => {
        const bytes = concat(records);
        const cut = pick % bytes.byteLength;
        const { applied, error } = consume(bytes.subarray(0, cut), s.guestPages, chunk);
        const ends = records.map((_, i) =>
          records.slice(0, i + 1).reduce((n, r) => n + r.byteLength, 0),
        );
        const endIndex = 1 + s.ops.length; // index of END among the records
        const cleanCut = ends.indexOf(cut) >= endIndex;
        expect(error === undefined).toBe(cleanCut);
        expectPrefixOf(applied, original(s, records));
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("a flipped bit anywhere is caught and nothing of the damaged record is applied", () => {
    fc.assert(
      fc.property(mutatedArb, ({ s, records, chunk, bit }) => {
        const bytes = concat(records);
        const pos = bit % (bytes.byteLength * 8);
        bytes[pos >> 3] = (bytes[pos >> 3] ?? 0) ^ (1 << (pos & 7));
        const { applied, error } = consume(bytes, s.guestPages, chunk);
        expect(error).toBeInstanceOf(StreamError);
        expectPrefixOf(applied, original(s, records));
        expect(applied.every((r) => r.offset + 12 <= pos >> 3 || r.offset > pos >> 3)).toBe(true);
      }),
      { numRuns: fuzzRuns(700), endOnFailure: true },
    );
  });

  it("duplicated, reordered and inserted records are refused", () => {
    fc.assert(
      fc.property(
        mutatedArb,
        fc.constantFrom("duplicate", "swap", "insert", "drop"),
        ({ s, records, chunk, pick, pick2 }, how) => {
          // Record 0 carries the header; mutate among the records after it.
          const body = records.slice(1);
          if (body.length < 2) return;
          const i = pick % body.length;
          const j = pick2 % body.length;
          const m = [...body];
          if (how === "duplicate") m.splice(j, 0, body[i] as Uint8Array);
          if (how === "swap") {
            if (i === j) return;
            [m[i], m[j]] = [m[j] as Uint8Array, m[i] as Uint8Array];
          }
          if (how === "insert") m.splice(j, 0, new Uint8Array(1 + (pick % 40)).fill(pick & 0xff));
          if (how === "drop") {
            if (i === body.length - 1 && i >= s.ops.length) return; // dropping the optional tail is legal
            m.splice(i, 1);
          }
          const { applied, error } = consume(
            concat([records[0] as Uint8Array, ...m]),
            s.guestPages,
            chunk,
          );
          expect(error).toBeInstanceOf(StreamError);
          expectPrefixOf(applied, original(s, records));
        },
      ),
      { numRuns: fuzzRuns(600), endOnFailure: true },
    );
  });

  it("a DEVICE_CONFIG removed, duplicated, relabelled or edited (CRCs recomputed) is refused", () => {
    fc.assert(
      fc.property(
        scenarioArb.filter((s) => s.devices.length > 0),
        fc.constantFrom("remove", "duplicate", "relabel", "edit"),
        fc.nat(),
        fc.nat(),
        (s, how, pick, pick2) => {
          const { header, records } = splitStream(concat(encodeScenario(s).flat()));
          const configs = records.flatMap((r, i) =>
            r.type === RecordType.DEVICE_CONFIG ? [i] : [],
          );
          expect(configs).toHaveLength(s.devices.length);
          const i = configs[pick % configs.length] as number;
          const target = records[i] as RawRecord;
          const m = [...records];
          const slot = new DataView(target.payload.buffer).getUint16(0, true);
          if (how === "remove") m.splice(i, 1);
          if (how === "duplicate") {
            // Anywhere after the original and before END (after END it is an order error).
            const end = m.findIndex((r) => r.type === RecordType.END);
            m.splice(i + 1 + (pick2 % (end - i)), 0, target);
          }
          if (how === "relabel") {
            const others = s.devices.map((d) => d.slot).filter((x) => x !== slot);
            // Another manifest slot when there is one, else a slot outside the manifest.
            const to = others.length > 0 ? (others[pick2 % others.length] as number) : slot + 1;
            const payload = target.payload.slice();
            new DataView(payload.buffer).setUint16(0, to, true);
            m[i] = { type: target.type, payload };
          }
          if (how === "edit") {
            // Flip a bit of the config space; an empty one gains a byte instead.
            const space = target.payload.subarray(4);
            const changed =
              space.byteLength === 0
                ? new Uint8Array([pick2 & 0xff])
                : space.map((b, k) =>
                    k === pick2 % space.byteLength ? b ^ (1 << (pick2 % 8)) : b,
                  );
            m[i] = { type: target.type, payload: concat([target.payload.subarray(0, 4), changed]) };
          }
          const { error } = consume(joinStream(header, m), s.guestPages, 4096);
          expect(error).toBeInstanceOf(StreamError);
          const rules = {
            remove: ["config-missing"],
            duplicate: ["duplicate-config"],
            relabel: ["duplicate-config", "slot"],
            edit: ["device-digest"],
          }[how];
          expect(rules).toContain(error?.rule);
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("a huge declared length is refused from the frame header, before any payload arrives", () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.integer({ min: 9 * 1024 * 1024, max: 0xffff_ffff }),
        (s, length) => {
          const first = concat(encodeScenario(s)[0] ?? []);
          const frame = new Uint8Array(12);
          const v = new DataView(frame.buffer);
          v.setUint16(0, 0x02, true); // RAM_PAGES
          v.setUint32(4, 1, true);
          v.setUint32(8, length, true);
          const dec = new StreamDecoder({ guestPages: s.guestPages });
          [...dec.push(first)];
          let err: unknown;
          try {
            [...dec.push(frame)];
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(StreamError);
          expect(err).toMatchObject({
            code: "E2BIG",
            rule: "record-length",
            recordType: "RAM_PAGES",
          });
        },
      ),
      { numRuns: fuzzRuns(200) },
    );
  });

  it("pages outside guest RAM are refused (EPROTO page-range) and not applied", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 63 }), (s, shrink) => {
        const hasRam = s.ops.some((o) => o.kind === "ram");
        const small = Math.max(0, s.guestPages - shrink);
        const maxEnd = Math.max(
          0,
          ...s.ops.map((o) => (o.kind === "ram" ? o.start + o.pages.length : 0)),
        );
        const { error } = consume(concat(encodeScenario(s).flat()), small, 4096);
        if (hasRam && maxEnd > small)
          expect(error).toMatchObject({ code: "EPROTO", rule: "page-range" });
        else expect(error).toBeUndefined();
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it("random bytes, with or without a valid header, only ever raise StreamError", () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.uint8Array({ maxLength: 600 }),
        fc.boolean(),
        (s, junk, withHeader) => {
          const head = withHeader ? concat(encodeScenario(s)[0] ?? []) : new Uint8Array(0);
          const { error } = consume(concat([head, junk]), s.guestPages, 7);
          expect(error).toBeInstanceOf(StreamError);
        },
      ),
      { numRuns: fuzzRuns(1000) },
    );
  });
});
