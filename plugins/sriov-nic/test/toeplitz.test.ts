import { describe, expect, it } from "vitest";
import { MS_RSS_KEY, rssInput, toeplitz } from "../src/index.js";

const ip = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);

describe("Toeplitz hash (Microsoft RSS verification suite, IPv4 with TCP)", () => {
  const cases: [string, number, string, number, number][] = [
    ["66.9.149.187", 2794, "161.142.100.80", 1766, 0x51ccc178],
    ["199.92.111.2", 14230, "65.69.140.83", 4739, 0xc626b0ea],
    ["24.19.198.95", 12898, "12.22.207.184", 38024, 0x5c2b394a],
    ["38.27.205.30", 48228, "209.142.163.6", 2217, 0xafc7327f],
    ["153.39.163.191", 44251, "202.188.127.2", 1303, 0x10e828a2],
  ];
  for (const [src, sport, dst, dport, hash] of cases) {
    it(`${src}:${sport} -> ${dst}:${dport} = 0x${hash.toString(16)}`, () => {
      const input = rssInput({
        srcIp: ip(src),
        dstIp: ip(dst),
        srcPort: sport,
        dstPort: dport,
        proto: 6,
      });
      expect(toeplitz(MS_RSS_KEY, input)).toBe(hash);
    });
  }

  it("IPv4 addresses only (8-byte input) match the suite too", () => {
    const input = rssInput({
      srcIp: ip("66.9.149.187"),
      dstIp: ip("161.142.100.80"),
      srcPort: 0,
      dstPort: 0,
      proto: 6,
    });
    expect(toeplitz(MS_RSS_KEY, input.subarray(0, 8))).toBe(0x323e8fc2);
  });

  it("refuses a key too short for the input", () => {
    expect(() => toeplitz(new Uint8Array(8), new Uint8Array(12))).toThrow(RangeError);
  });
});
