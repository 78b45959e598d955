import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { PLUGINS, selectedPlugins } from "../registry.js";

describe("MDEVKIT_PLUGINS selection", () => {
  it("selects every plugin when unset or empty", () => {
    expect(selectedPlugins(undefined).map(([n]) => n)).toEqual(Object.keys(PLUGINS));
    expect(selectedPlugins(" ").map(([n]) => n)).toEqual(Object.keys(PLUGINS));
  });

  it("selects the named plugins and refuses unknown names", () => {
    expect(selectedPlugins("mtty").map(([n]) => n)).toEqual(["mtty"]);
    expect(() => selectedPlugins("mtty,gvt-g")).toThrow(/unknown plugin\(s\) gvt-g; known: mtty/);
  });
});
