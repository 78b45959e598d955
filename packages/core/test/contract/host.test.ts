import { describe, expect, it } from "vitest";
import { createHost, EngineServices, PluginRegistry, TOKENS } from "../../src/index.js";
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

  it("gives each host its own default channel factory and event sink, the same on every resolve", () => {
    const a = createHost({ name: "a" });
    const b = createHost({ name: "b" });
    for (const token of [TOKENS.ChannelFactory, TOKENS.EventSink, TOKENS.Clock]) {
      expect(a.container.resolve(token)).toBe(a.container.resolve(token));
      expect(a.container.resolve(token)).not.toBe(b.container.resolve(token));
    }
  });

  it("resolves the engine's services from the host's registrations", () => {
    const events = { event: () => {} };
    const host = createHost({ name: "h", events });
    const services = host.container.resolve(EngineServices);
    expect(services.events).toBe(events);
    expect(services.plugins).toBe(host.plugins);
    expect(services.hostName).toBe("h");
  });

  it("shows a clock registered after creation as the host's clock", () => {
    const host = createHost({ name: "h" });
    host.container.register(TOKENS.Clock, { useValue: { nowNs: () => 7n } });
    expect(host.clock.nowNs()).toBe(7n);
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
