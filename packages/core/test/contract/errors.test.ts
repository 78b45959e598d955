import { describe, expect, it } from "vitest";
import {
  detailOf,
  ERRNO,
  errnoOf,
  FsmError,
  isMdevError,
  MdevError,
  MigrationError,
} from "../../src/index.js";

describe("typed errors", () => {
  it("carry the code, Linux's errno and a message naming the problem", () => {
    const err = new MdevError("ENOMSG", "no data yet");
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("MdevError");
    expect(err.errno).toBe(42);
    expect(err.message).toBe("ENOMSG: no data yet");
    expect(isMdevError(err, "ENOMSG")).toBe(true);
    expect(isMdevError(err, "EINVAL")).toBe(false);
    expect(isMdevError(new Error("x"))).toBe(false);
  });
  it("subclasses keep their name and fields", () => {
    const err = new FsmError("EINVAL", 3, 6, "blocked");
    expect(err.name).toBe("FsmError");
    expect(err).toBeInstanceOf(MdevError);
    expect([err.from, err.to, err.errno]).toEqual([3, 6, ERRNO.EINVAL]);
  });
  it("errnoOf keeps a system error's code where mdevkit has it, else the fallback", () => {
    const sys = (code: string) => Object.assign(new Error(code), { code });
    expect(errnoOf(sys("ENOENT"), "EIO")).toBe("ENOENT");
    expect(errnoOf(sys("EADDRINUSE"), "EIO")).toBe("EADDRINUSE");
    expect(errnoOf(sys("ECONNREFUSED"), "ECONNRESET")).toBe("ECONNREFUSED");
    // Codes mdevkit does not have, a code that is an Object property, and no code at all.
    expect(errnoOf(sys("EHOSTUNREACH"), "ECONNRESET")).toBe("ECONNRESET");
    expect(errnoOf(sys("toString"), "EIO")).toBe("EIO");
    expect(errnoOf(new Error("x"), "EIO")).toBe("EIO");
    expect(errnoOf(undefined, "EIO")).toBe("EIO");
  });
  it("detailOf gives the words to quote inside another error, without the code", () => {
    expect(detailOf(new MdevError("ECONNREFUSED", "nobody listens"))).toBe("nobody listens");
    const failed = new MigrationError("EIO", "precopy", "device gone");
    expect(detailOf(failed)).toBe("migration failed during precopy: device gone");
    expect(failed.reason).toBe("device gone");
    expect(detailOf(new Error("plain"))).toBe("plain");
    expect(detailOf("text")).toBe("text");
    // An error of another copy of core that predates `detail`: only its exact prefix goes.
    const older = Object.assign(Object.create(MdevError.prototype), {
      code: "EPROTO",
      message: "EPROTO: EIO inside",
    });
    expect(detailOf(older)).toBe("EIO inside");
  });
});
