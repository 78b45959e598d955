// The target maps the GGTT sent during precopy as it arrives (RESUMING), so the load in the
// downtime re-emulates only the entries rewritten since; a resume given up before the
// load drops what was mapped.
import { drainStream, saveDevice, writeChunks } from "@mdevkit/conformance";
import { type MigrationDataStream, MigState, StateWriter } from "@mdevkit/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeStream, precopyGgtt, pteOf, splitDocs } from "../src/index.js";
import {
  expectedPins,
  type GvtgDriver,
  gvtgHarness,
  pinnedGfns,
  sorted,
  ticks,
} from "./helpers.js";

/** A source saved through PRE_COPY, with one GGTT entry rewritten after the first drain. */
async function savedWithRewrite() {
  const src = await gvtgHarness();
  ticks(src.driver, 10);
  const v = src.driver.vgpu;
  const rewritten = v.layout.poolIndex + 1;
  const saved = await saveDevice(src.driver, {
    whilePrecopy: async () => src.driver.guestGgttWrite(rewritten, ...pteOf(v.layout.poolGfn + 33)),
  });
  return { src, saved, rewritten };
}

/** Indices of present GGTT entries other than `except`. */
function presentEntries(driver: GvtgDriver, except: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < driver.vgpu.ggtt.entries; i++)
    if (i !== except && driver.vgpu.ggtt.present(i)) out.push(i);
  return out;
}

describe("GGTT preload during RESUMING", () => {
  it("maps the precopy GGTT before the load; the load keeps those mappings and redoes the rewritten entry", async () => {
    const { src, saved, rewritten } = await savedWithRewrite();
    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const stream = await dst.driver.setState(MigState.RESUMING);
    await writeChunks(stream!, saved.precopy, [4096, 777]);

    // Before any STOP: the precopy GGTT (whole table, then the rewrite's delta) is mapped.
    const ggtt = dst.driver.vgpu.ggtt;
    expect(Array.from(ggtt.virtual)).toEqual(Array.from(src.driver.vgpu.ggtt.virtual));
    const kept = presentEntries(dst.driver, rewritten);
    expect(kept.length).toBeGreaterThan(0);
    for (const i of kept) expect(ggtt.hostGfn(i)).toBe(ggtt.gfn(i));
    const before = kept.map((i) => ggtt.host[i]);

    await writeChunks(stream!, saved.stopCopy, [1000]);
    await dst.driver.setState(MigState.STOP);

    expect(Array.from(ggtt.virtual)).toEqual(Array.from(src.driver.vgpu.ggtt.virtual));
    expect(kept.map((i) => ggtt.host[i])).toEqual(before);
    expect(ggtt.hostGfn(rewritten)).toBe(src.driver.vgpu.layout.poolGfn + 33);
    expect(sorted(pinnedGfns(dst.iommu, dst.memory.pages))).toEqual(
      sorted(expectedPins(dst.driver)),
    );
  });

  it("maps frames the final state rewrites after the precopy GGTT", async () => {
    const src = await gvtgHarness();
    ticks(src.driver, 10);
    const v = src.driver.vgpu;
    const late = v.layout.poolIndex + 2;
    const stream = await src.driver.setState(MigState.PRE_COPY);
    const precopy = await stream!.read(1 << 20);
    const old = [v.ggtt.virtual[2 * late], v.ggtt.virtual[2 * late + 1]];
    // The rewrite lands between the precopy drain and the stop: it travels in STOP_COPY.
    src.driver.guestGgttWrite(late, ...pteOf(v.layout.poolGfn + 50));
    await src.driver.setState(MigState.STOP_COPY);
    const stopCopy = await stream!.read(1 << 20);
    expect(splitDocs(precopy).length).toBe(2);

    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const resuming = await dst.driver.setState(MigState.RESUMING);
    await resuming!.write(precopy);
    const ggtt = dst.driver.vgpu.ggtt;
    expect([ggtt.virtual[2 * late], ggtt.virtual[2 * late + 1]]).toEqual(old);
    await resuming!.write(stopCopy);
    await dst.driver.setState(MigState.STOP);
    expect(Array.from(ggtt.virtual)).toEqual(Array.from(v.ggtt.virtual));
    expect(ggtt.hostGfn(late)).toBe(v.layout.poolGfn + 50);
    expect(sorted(pinnedGfns(dst.iommu, dst.memory.pages))).toEqual(
      sorted(expectedPins(dst.driver)),
    );
  });

  it("a resume given up after the precopy GGTT (reset) holds no pins", async () => {
    const { saved } = await savedWithRewrite();
    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const stream = await dst.driver.setState(MigState.RESUMING);
    await writeChunks(stream!, saved.precopy);
    expect(pinnedGfns(dst.iommu, dst.memory.pages).size).toBeGreaterThan(0);
    await dst.driver.reset();
    expect(pinnedGfns(dst.iommu, dst.memory.pages).size).toBe(0);
    expect(dst.driver.vgpu.host.totalRefs).toBe(0);
  });

  it("refuses a damaged precopy delta on the write that completes it, and takes back the GGTT it had mapped", async () => {
    const { saved } = await savedWithRewrite();
    const docs = splitDocs(saved.precopy);
    expect(docs.length).toBe(3); // compat, the whole GGTT, the rewrite's delta
    const delta = (docs[2] as Uint8Array).slice();
    // The delta's PTE: the section's CRC32C no longer matches.
    delta[delta.byteLength - 6] = (delta[delta.byteLength - 6] as number) ^ 0xff;
    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const before = Array.from(dst.driver.vgpu.ggtt.virtual);
    const pinsBefore = sorted(pinnedGfns(dst.iommu, dst.memory.pages));
    const stream = await dst.driver.setState(MigState.RESUMING);
    await stream!.write(docs[0] as Uint8Array);
    await stream!.write(docs[1] as Uint8Array);
    expect(Array.from(dst.driver.vgpu.ggtt.virtual)).not.toEqual(before);
    await expect(stream!.write(delta)).rejects.toMatchObject({ code: "EBADMSG" });
    expect(Array.from(dst.driver.vgpu.ggtt.virtual)).toEqual(before);
    expect(sorted(pinnedGfns(dst.iommu, dst.memory.pages))).toEqual(pinsBefore);
  });

  it("the load decodes only what follows the precopy documents the preload read, and learns which GGTT entries they leave to redo", async () => {
    const { src, saved, rewritten } = await savedWithRewrite();
    const type = src.driver.type;
    const docs = splitDocs(saved.precopy); // compat, the whole GGTT, the rewrite's delta
    const at = (docs[0] as Uint8Array).byteLength + (docs[1] as Uint8Array).byteLength;
    const ggtt = precopyGgtt(docs[1] as Uint8Array, type, undefined) as Uint32Array;
    // A mark no later document overwrites: only a decode that skipped docs[1] keeps it.
    const marked = src.driver.vgpu.ggtt.entries - 1;
    ggtt[2 * marked] = 0xabc0;

    const full = decodeStream(saved.bytes, type);
    const resumed = decodeStream(saved.bytes, type, { at, ggtt });

    expect(resumed.image.ggtt[2 * marked]).toBe(0xabc0);
    expect(resumed.ggttWritten).toContain(rewritten);
    expect(full.ggttWritten).toBeUndefined();
    resumed.image.ggtt[2 * marked] = full.image.ggtt[2 * marked] as number;
    expect(resumed.image).toEqual(full.image);
  });

  it("refuses a precopy GGTT section with bytes after its entries on the write, as the load refuses it", async () => {
    const { saved } = await savedWithRewrite();
    const docs = splitDocs(saved.precopy);
    // An empty delta, then four bytes no reader of the section takes.
    const padded = new StateWriter().section("ggtt-delta", 1, (f) => f.u32(0).u32(0xdead)).finish();
    const dst = await gvtgHarness();
    await dst.driver.setState(MigState.STOP);
    const stream = await dst.driver.setState(MigState.RESUMING);
    await stream!.write(docs[0] as Uint8Array);
    await stream!.write(docs[1] as Uint8Array);
    await expect(stream!.write(padded)).rejects.toMatchObject({
      code: expect.stringMatching(/EBADMSG|EPROTO/),
    });
  });

  it("whatever the GGTT rewrites between precopy passes and however the bytes arrive, the loaded GGTT is the source's and maps what it names", async () => {
    // Entry rewrites: an index in the first 64 entries past the pool start, and a frame
    // (a pool page) or none (a cleared entry).
    const rewrite = fc.tuple(fc.nat(63), fc.option(fc.nat(63), { nil: undefined }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(rewrite, { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 4 }),
        async (passes, chunks) => {
          const src = await gvtgHarness();
          ticks(src.driver, 3);
          const v = src.driver.vgpu;
          const write = (i: number, frame: number | undefined) => {
            const [lo, hi] = frame === undefined ? [0, 0] : pteOf(v.layout.poolGfn + frame);
            src.driver.guestGgttWrite(v.layout.poolIndex + i, lo, hi);
          };
          const stream = (await src.driver.setState(MigState.PRE_COPY)) as MigrationDataStream;
          const parts: Uint8Array[] = [];
          for (const [k, pass] of passes.entries()) {
            if (k > 0) for (const [i, frame] of pass) write(i, frame);
            parts.push((await drainStream(stream)).bytes);
          }
          // The last pass's rewrites land after the drain: they travel in STOP_COPY.
          for (const [i, frame] of passes[passes.length - 1] ?? []) write(i, frame);
          await src.driver.setState(MigState.STOP_COPY);
          parts.push((await drainStream(stream)).bytes);
          await src.driver.setState(MigState.STOP);

          const dst = await gvtgHarness();
          await dst.driver.setState(MigState.STOP);
          const resuming = (await dst.driver.setState(MigState.RESUMING)) as MigrationDataStream;
          const bytes = new Uint8Array(Buffer.concat(parts));
          await writeChunks(resuming, bytes, chunks);
          await dst.driver.setState(MigState.STOP);

          const ggtt = dst.driver.vgpu.ggtt;
          expect(Array.from(ggtt.virtual)).toEqual(Array.from(v.ggtt.virtual));
          for (let i = 0; i < ggtt.entries; i++) {
            if (ggtt.present(i) && ggtt.gfn(i) < dst.memory.pages)
              expect(ggtt.hostGfn(i)).toBe(ggtt.gfn(i));
          }
          expect(sorted(pinnedGfns(dst.iommu, dst.memory.pages))).toEqual(
            sorted(expectedPins(dst.driver)),
          );
        },
      ),
      { numRuns: 25 },
    );
  });
});
