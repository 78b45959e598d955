import { describe, expect, it } from "vitest";
import { createHost, PluginRegistry, TOKENS } from "../../src/index.js";
import { toyPlugin } from "../helpers/toy-plugin.js";

describe("createHost", () => {
  it("gives each host its own container and registry", () => {
    const source = createHost({ name: "source", plugins: [toyPlugin()] });
    const target = createHost({ name: "target" });
    expect(source.plugins).toBeInstanceOf(PluginRegistry);
    expect(source.plugins).not.toBe(target.plugins);
    expect(source.plugins.find("toy")).toBeDefined();
    expect(target.plugins.find("toy")).toBeUndefined();
    // Resolving again on the same host yields the same (container-scoped) registry.
    expect(source.container.resolve(TOKENS.PluginRegistry)).toBe(source.plugins);
    expect(source.container.resolve(TOKENS.HostName)).toBe("source");
  });

  it("uses the given clock", () => {
    const clock = { nowNs: () => 42n };
    expect(createHost({ name: "h", clock }).clock.nowNs()).toBe(42n);
  });

  it("refuses invalid plugins at creation", () => {
    expect(() => createHost({ name: "h", plugins: [toyPlugin(), toyPlugin()] })).toThrow(
      /already registered/,
    );
  });
});
