import { MdevError } from "@mdevkit/core";
import { describe, expect, it } from "vitest";
import {
  parseBandwidth,
  parseCount,
  parseCountOrZero,
  parseDuration,
  parseFormatVersion,
  parseMemoryMiB,
} from "../src/units.js";

describe("parseBandwidth", () => {
  it.each([
    ["10Gbps", 1.25e9],
    ["1.5Gbit", 1.875e8],
    ["200Mbps", 2.5e7],
    ["100mbps", 1.25e7],
    ["500MB/s", 5e8],
    ["2GB/s", 2e9],
    ["64kB/s", 64e3],
    ["1000000", 1e6],
    [" 10 Gbps ", 1.25e9],
    ["0", 0],
  ])("%s is %d bytes/s", (text, bytesPerSecond) => {
    expect(parseBandwidth(text)).toBe(bytesPerSecond);
  });

  it("tells bits from bytes: 8 Mbps is one MB/s", () => {
    expect(parseBandwidth("8Mbps")).toBe(parseBandwidth("1MB/s"));
  });

  it.each(["", "fast", "10 furlongs", "-5Gbps", "10Xbps", "1e9", "Gbps", "10Gbps extra"])(
    "refuses %j with EINVAL naming the input and the expected shape",
    (text) => {
      let caught: unknown;
      try {
        parseBandwidth(text);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(MdevError);
      expect((caught as MdevError).code).toBe("EINVAL");
      expect((caught as MdevError).message).toContain(`"${text}"`);
      expect((caught as MdevError).message).toMatch(/10Gbps, 500MB\/s/);
    },
  );
});

describe("parseDuration", () => {
  it.each([
    ["300", 300],
    ["300ms", 300],
    ["2s", 2000],
    ["1.5s", 1500],
    ["0.4ms", 0],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "2m", "soon", "-1s"])("refuses %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/is not like 300ms or 2s/);
  });
});

describe("parseCount", () => {
  it("accepts positive whole numbers", () => {
    expect(parseCount("64")).toBe(64);
  });

  it.each(["0", "-3", "1.5", "abc", "", "9007199254740993"])("refuses %j", (text) => {
    expect(() => parseCount(text)).toThrow(/is not a positive whole number/);
  });
});

describe("parseCountOrZero", () => {
  it("accepts 0 and positive whole numbers", () => {
    expect(parseCountOrZero("0")).toBe(0);
    expect(parseCountOrZero(" 00 ")).toBe(0);
    expect(parseCountOrZero("3")).toBe(3);
  });

  it.each(["-1", "1.5", "abc", ""])("refuses %j", (text) => {
    expect(() => parseCountOrZero(text)).toThrow(/is not a whole number/);
  });
});

describe("parseFormatVersion", () => {
  it("accepts the versions this build writes", () => {
    expect([2, 3, 4, 5].map((v) => parseFormatVersion(String(v)))).toEqual([2, 3, 4, 5]);
  });

  it.each(["1", "6", "3.5", "0x4", ""])("refuses %j", (text) => {
    expect(() => parseFormatVersion(text)).toThrow(/is not one this build writes \(2\.\.5\)/);
  });
});

describe("option values that used to slip through", () => {
  it("a duration a timer cannot wait is refused, not turned into 1 ms", () => {
    expect(parseDuration("2147483647")).toBe(2 ** 31 - 1);
    expect(() => parseDuration("2147483648")).toThrow(/longer than 2147483647 ms/);
    expect(() => parseDuration("30000000s")).toThrow(MdevError);
  });

  it("counts are decimal digits only", () => {
    for (const text of ["0x40", "1e3", "+5", "0b11", "5.0"]) {
      expect(() => parseCount(text), text).toThrow(/not a positive whole number/);
    }
    expect(parseCount(" 64 ")).toBe(64);
  });

  it("--memory keeps to the VM config's limit", () => {
    expect(parseMemoryMiB("16384")).toBe(16384);
    expect(() => parseMemoryMiB("16385")).toThrow(/more than 16384 MiB/);
    expect(() => parseMemoryMiB("0x40")).toThrow(/not a positive whole number/);
  });
});
