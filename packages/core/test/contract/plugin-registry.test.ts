import { describe, expect, it } from "vitest";
import {
  MigFlags,
  PluginRegistrationError,
  PluginRegistry,
  type VendorPlugin,
} from "../../src/index.js";
import { toyPlugin } from "../helpers/toy-plugin.js";

describe("PluginRegistry", () => {
  it("registers, finds and resolves a valid plugin", () => {
    const registry = new PluginRegistry().register(toyPlugin());
    expect(registry.find("toy")?.version).toBe("1.2.3");
    expect(registry.resolve("toy", "toy-1").name).toBe("toy");
    expect(registry.list().map((p) => p.name)).toEqual(["toy"]);
  });

  it("refuses a duplicate name with EEXIST", () => {
    const registry = new PluginRegistry().register(toyPlugin());
    expect(() => registry.register(toyPlugin({ version: "2.0.0" }))).toThrow(
      expect.objectContaining({ code: "EEXIST", pluginName: "toy" }),
    );
  });

  it.each([
    {
      field: "name",
      value: "Bad Name",
      problem: /name: must be a lowercase npm-style package name/,
    },
    { field: "version", value: "one", problem: /version: must be a semver version/ },
    { field: "engine", value: "not a range!", problem: /engine: must be a semver range/ },
    {
      field: "deviceTypes",
      value: [],
      problem: /deviceTypes: must offer at least one device type/,
    },
    {
      field: "deviceTypes",
      value: [{ name: "a" }, { name: "a" }],
      problem: /device type names must be unique/,
    },
    {
      field: "migrationFlags",
      value: MigFlags.P2P,
      problem: /migrationFlags: P2P is not a legal flag set/,
    },
    { field: "migrationFlags", value: 9, problem: /STOP_COPY\|0x8 is not a legal flag set/ },
    { field: "dirtyTracking", value: "magic", problem: /dirtyTracking/ },
    { field: "create", value: "nope", problem: /create: must be a function/ },
    { field: "checkCompatible", value: undefined, problem: /checkCompatible/ },
  ])("refuses an invalid $field with a clear EINVAL", ({ field, value, problem }) => {
    const err = (() => {
      try {
        new PluginRegistry().register(toyPlugin({ [field]: value }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(PluginRegistrationError);
    expect((err as PluginRegistrationError).code).toBe("EINVAL");
    expect((err as Error).message).toMatch(problem);
  });

  it("lists every problem at once", () => {
    expect(() =>
      new PluginRegistry().register(toyPlugin({ version: "x", migrationFlags: 0 })),
    ).toThrow(
      expect.objectContaining({
        problems: [expect.stringMatching(/^version/), expect.stringMatching(/^migrationFlags/)],
      }),
    );
  });

  it("refuses a plugin built for another engine", () => {
    expect(() => new PluginRegistry().register(toyPlugin({ engine: "^2.0.0" }))).toThrow(
      /requires \^2\.0\.0, this engine is 0\.1\.0/,
    );
  });

  it("refuses something that is not an object", () => {
    expect(() => new PluginRegistry().register(null as unknown as VendorPlugin)).toThrow(
      /plugin "<unnamed>" refused/,
    );
  });

  it("resolve names what is missing", () => {
    const registry = new PluginRegistry().register(toyPlugin());
    expect(() => registry.resolve("gvt-g")).toThrow(
      /no plugin "gvt-g" is registered \(registered: toy\)/,
    );
    expect(() => registry.resolve("toy", "toy-9")).toThrow(
      /offers no device type "toy-9" \(offers: toy-1\)/,
    );
  });
});
