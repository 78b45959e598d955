import { describe, expect, it } from "vitest";
import { checkListenExposure, isLoopbackHost } from "../src/exposure.js";

describe("listen exposure", () => {
  it.each(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])("%s is loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each(["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.org"])("%s is not", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });

  it("refuses plain TCP on every address or a wildcard, naming the ways out", () => {
    for (const url of ["tcp://0.0.0.0:4444", "tcp://[::]:4444", "tcp://192.0.2.1:4444"]) {
      expect(() => checkListenExposure(url, false), url).toThrow(
        /EPERM: .* without authentication; listen on tls:\/\/ .* or add --insecure-bind/,
      );
    }
  });

  it("allows loopback, TLS, UNIX sockets, and plain TCP when forced", () => {
    expect(() => checkListenExposure("tcp://127.0.0.1:4444", false)).not.toThrow();
    expect(() => checkListenExposure("tls://0.0.0.0:4444", false)).not.toThrow();
    expect(() => checkListenExposure("unix:///tmp/x.sock", false)).not.toThrow();
    expect(() => checkListenExposure("tcp://0.0.0.0:4444", true)).not.toThrow();
  });
});
