/** Conformance hooks for `@mdevkit/plugin-mtty` (mtty-2): the plugin ships them itself. */

import { type MttyDriver, mttyPlugin } from "@mdevkit/plugin-mtty";
import { mttyConformanceOptions } from "@mdevkit/plugin-mtty/conformance";
import type { PluginEntry } from "../registry.js";

export const mtty: PluginEntry<MttyDriver> = {
  plugin: mttyPlugin,
  options: mttyConformanceOptions,
};
