import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyRamRun, DevicePhase, type StreamRecord } from "../../src/stream/index.js";
import {
  chunkSizesArb,
  concat,
  decodeAll,
  encodeScenario,
  expectedRam,
  scenarioArb,
} from "./stream-fixtures.js";

/** Strips decode-only metadata so records compare with what was encoded. */
function types(records: readonly StreamRecord[]): string[] {
  return records.map((r) => r.type);
}

describe("stream round trip", () => {
  it("every record type decodes to what was encoded, in any chunking", () => {
    fc.assert(
      fc.property(scenarioArb, chunkSizesArb, (s, chunks) => {
        const bytes = concat(encodeScenario(s).flat());
        const records = decodeAll(bytes, s.guestPages, chunks);
        expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i));
        const hs = records[0];
        expect(hs?.type).toBe("HANDSHAKE");
        if (hs?.type === "HANDSHAKE") {
          expect(Buffer.from(hs.config).equals(Buffer.from(s.config))).toBe(true);
          expect(hs.devices.map((d) => ({ ...d, compat: [...d.compat] }))).toEqual(
            s.devices.map((d) => ({ ...d, compat: [...d.compat] })),
          );
        }
        // Body records in order, one per op.
        const body = records.slice(1, 1 + s.ops.length);
        s.ops.forEach((op, i) => {
          const r = body[i];
          switch (op.kind) {
            case "ram":
              expect(
                r?.type === "RAM_PAGES" && r.startPage === op.start && r.count === op.pages.length,
              ).toBe(true);
              break;
            case "data":
              expect(r?.type === "DEVICE_DATA" && r.slot === op.slot && r.phase === op.phase).toBe(
                true,
              );
              if (r?.type === "DEVICE_DATA") expect([...r.data]).toEqual([...op.bytes]);
              break;
            case "config":
              expect(r?.type === "DEVICE_CONFIG" && r.slot === op.slot).toBe(true);
              if (r?.type === "DEVICE_CONFIG") expect([...r.config]).toEqual([...op.bytes]);
              break;
            case "iteration":
              expect(r).toMatchObject({
                type: "ITERATION",
                iteration: op.n,
                deviceBytes: 2 ** 40,
              });
              break;
            case "initDone":
              expect(r).toMatchObject({ type: "DEVICE_INIT_DONE", slot: op.slot });
              break;
            case "precopyEnd":
              expect(r?.type).toBe("PRECOPY_END");
              break;
          }
        });
        const end = records[1 + s.ops.length];
        expect(end?.type).toBe("END");
        if (end?.type === "END") expect([...end.ramDigest]).toEqual([...s.ramDigest]);
        const tail = { go: ["GO"], abort: ["ABORT"], none: [] }[s.tail];
        expect(types(records.slice(2 + s.ops.length))).toEqual(tail);
      }),
      { numRuns: 300 },
    );
  });

  it("applying the decoded RAM runs rebuilds the source's memory bit for bit", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const ram = new Uint8Array(s.guestPages * 4096);
        const dec = decodeAll(concat(encodeScenario(s).flat()), s.guestPages, [777]);
        for (const r of dec) if (r.type === "RAM_PAGES") applyRamRun(r, ram, 4096);
        expect(Buffer.from(ram).equals(Buffer.from(expectedRam(s)))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("END carries the totals and per-device digests the encoder accounted", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const records = decodeAll(concat(encodeScenario(s).flat()), s.guestPages);
        const end = records.find((r) => r.type === "END");
        if (end?.type !== "END") throw new Error("no END");
        let data = 0;
        let zero = 0;
        for (const op of s.ops) {
          if (op.kind === "ram") for (const p of op.pages) p === null ? zero++ : data++;
        }
        expect([end.dataPages, end.zeroPages]).toEqual([data, zero]);
        expect(end.devices.map((d) => d.slot)).toEqual(
          s.devices.map((d) => d.slot).sort((a, b) => a - b),
        );
        for (const d of end.devices) {
          const sent = s.ops.filter((o) => o.kind === "data" && o.slot === d.slot);
          expect(d.bytes).toBe(
            sent.reduce((n, o) => n + (o.kind === "data" ? o.bytes.byteLength : 0), 0),
          );
        }
      }),
      { numRuns: 100 },
    );
  });

  it("the device phase values are the documented ones", () => {
    expect(DevicePhase).toEqual({ PRE_COPY: 1, STOP_COPY: 2 });
  });
});
