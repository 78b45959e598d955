import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatChannelUrl, parseChannelUrl, TransportError } from "../../src/transport/index.js";

describe("channel URLs", () => {
  it("parses the four schemes", () => {
    expect(parseChannelUrl("tcp://127.0.0.1:4444")).toEqual({
      kind: "tcp",
      host: "127.0.0.1",
      port: 4444,
    });
    expect(parseChannelUrl("tls://[::1]:443")).toEqual({ kind: "tls", host: "::1", port: 443 });
    expect(parseChannelUrl("unix:///run/mdevkit.sock")).toEqual({
      kind: "unix",
      path: "/run/mdevkit.sock",
    });
    expect(parseChannelUrl("file:///var/lib/vm.save")).toEqual({
      kind: "file",
      path: "/var/lib/vm.save",
    });
  });

  it("refuses malformed addresses with EINVAL", () => {
    for (const bad of [
      "http://x:1",
      "tcp://host",
      "tcp://host:70000",
      "tcp://:1",
      "unix://relative",
      "file://",
      "tcp://a b:1",
      "tls://host:-1",
    ]) {
      expect(() => parseChannelUrl(bad), bad).toThrow(TransportError);
    }
  });

  it("format and parse are inverse for valid TCP addresses", () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom("tcp", "tls"),
        (host, port, kind) => {
          const a = { kind, host, port } as const;
          expect(parseChannelUrl(formatChannelUrl(a))).toEqual(a);
        },
      ),
    );
  });
});
