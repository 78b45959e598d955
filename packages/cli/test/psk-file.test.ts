import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { channelOptions, parsePskFile } from "../src/tls-options.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const KEY = "00112233445566778899aabbccddeeff";

describe("PSK files", () => {
  it("take a hex key with or without a final line break", () => {
    expect(parsePskFile(enc(KEY), "k").toString("hex")).toBe(KEY);
    expect(parsePskFile(enc(`${KEY}\n`), "k").toString("hex")).toBe(KEY);
    expect(parsePskFile(enc(`${KEY.toUpperCase()}\r\n`), "k").toString("hex")).toBe(KEY);
  });

  it("refuse a key with anything after its hex digits (two files must never give one key)", () => {
    expect(() => parsePskFile(enc(`${KEY}zz`), "k")).toThrow(
      /EINVAL: k: character 33 is not a hex digit/,
    );
    expect(() => parsePskFile(enc(`${KEY} 00`), "k")).toThrow(/not a hex digit/);
    expect(() => parsePskFile(enc(`${KEY}\n\n`), "k")).toThrow(/not a hex digit/);
  });

  it("refuse an odd number of digits instead of dropping the last nibble", () => {
    expect(() => parsePskFile(enc(`${KEY}a`), "k")).toThrow(/odd number of hex digits/);
  });

  it("refuse keys that are too short or too long", () => {
    expect(() => parsePskFile(enc("00112233"), "k")).toThrow(/4 bytes, need 16 to 512/);
    expect(() => parsePskFile(enc("ab".repeat(513)), "k")).toThrow(/513 bytes/);
  });

  it("a key file that cannot be read keeps the system's reason: missing ENOENT, a folder EISDIR", () => {
    const url = "tls://127.0.0.1:4444";
    expect(() => channelOptions({ pskFile: join(tmpdir(), "no-such.psk") }, url)).toThrow(
      /^ENOENT: cannot read /,
    );
    expect(() => channelOptions({ pskFile: tmpdir() }, url)).toThrow(/^EISDIR: cannot read /);
  });
});
