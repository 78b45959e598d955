import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  type DeviceContext,
  type DmaAccess,
  DmaFaultError,
  errnoOf,
  FsmError,
  isMdevError,
  MdevError,
  StreamError,
} from "../../src/index.js";
import { BareDriver } from "../helpers/bare-driver.js";
import { inertContext } from "../helpers/toy-driver.js";

// A plugin package built against its own @mdevkit/core loads a second copy of the errors
// module next to the engine's: the same source, another module instance, other classes.
// `?copy` makes the module loader treat the same file as a new module.
type ErrorsModule = typeof import("../../src/errors/index.js");
const copy = (await import(
  // @ts-expect-error: the query makes a second module instance; TypeScript has no types for it
  "../../src/errors/mdev-error.ts?copy"
)) as Pick<ErrorsModule, "MdevError" | "isMdevError">;

// The whole errors folder copied elsewhere: its subclasses extend that copy's MdevError.
const folder = mkdtempSync(join(tmpdir(), "mdevkit-errors-copy-"));
cpSync(fileURLToPath(new URL("../../src/errors/", import.meta.url)), folder, { recursive: true });
const tree = (await import(join(folder, "index.ts"))) as ErrorsModule;
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A device whose DMA port throws what `fault` makes. */
class Writer extends BareDriver {
  constructor(ctx: DeviceContext) {
    super(ctx, { maxStateBytes: 8 });
  }
  write(iova: number): boolean {
    return this.dmaWrite(iova, Uint8Array.of(1));
  }
  read(iova: number): Uint8Array | undefined {
    return this.dmaRead(iova, 1);
  }
}

describe("errors of another copy of @mdevkit/core", () => {
  it("the two copies are really different classes", () => {
    expect(copy.MdevError).not.toBe(MdevError);
    expect(tree.MdevError).not.toBe(MdevError);
    expect(Object.getPrototypeOf(new tree.FsmError("EIO", 0, 1, "x"))).not.toBe(FsmError.prototype);
  });

  it("isMdevError, errnoOf and instanceof know an MdevError of the other copy", () => {
    const err = new copy.MdevError("ENOMSG", "no precopy data available now");
    expect(isMdevError(err)).toBe(true);
    expect(isMdevError(err, "ENOMSG")).toBe(true);
    expect(isMdevError(err, "EINVAL")).toBe(false);
    expect(errnoOf(err, "EIO")).toBe("ENOMSG");
    expect(err instanceof MdevError).toBe(true);
    // And the other way round: the plugin's copy knows the engine's errors.
    expect(copy.isMdevError(new MdevError("EFAULT", "x"), "EFAULT")).toBe(true);
    expect(new MdevError("EFAULT", "x") instanceof copy.MdevError).toBe(true);
  });

  it("a subclass of the other copy is an instance of the same-named class here, and only of it", () => {
    const fsm = new tree.FsmError("EINVAL", 3, 6, "blocked");
    expect(fsm instanceof FsmError).toBe(true);
    expect(fsm instanceof MdevError).toBe(true);
    expect(fsm instanceof StreamError).toBe(false);
    expect(isMdevError(fsm, "EINVAL")).toBe(true);
    const fault = new tree.DmaFaultError(0, 4, "unmapped", 0);
    expect(fault instanceof DmaFaultError).toBe(true);
    expect(fault instanceof FsmError).toBe(false);
  });

  it("what is not an mdevkit error stays out", () => {
    for (const v of [new Error("ENOMSG: x"), { code: "ENOMSG" }, null, undefined, "ENOMSG", 42]) {
      expect(isMdevError(v)).toBe(false);
      expect(v instanceof MdevError).toBe(false);
    }
    // A plain error whose class happens to be called MdevError carries no brand.
    class Impostor extends Error {}
    Object.defineProperty(Impostor, "name", { value: "MdevError" });
    expect(new Impostor("x") instanceof MdevError).toBe(false);
    expect(new MdevError("EIO", "x") instanceof Impostor).toBe(false);
  });

  it("a driver built on one copy treats an IOMMU fault of the other copy's DMA port as a fault", () => {
    const dma: DmaAccess = {
      read: (iova) => {
        throw new tree.DmaFaultError(iova, 1, "unmapped", iova);
      },
      write: (iova) => {
        throw new tree.DmaFaultError(iova, 1, "read-only", iova);
      },
    };
    const d = new Writer(inertContext({ dma }));
    expect(d.write(0x1000)).toBe(false);
    expect(d.read(0x1000)).toBeUndefined();
  });
});
