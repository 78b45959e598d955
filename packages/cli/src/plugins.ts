import type { VendorPlugin } from "@mdevkit/core";
import { accelPlugin } from "@mdevkit/plugin-accel";
import { gvtgPlugin } from "@mdevkit/plugin-gvt-g";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { sriovNicPlugin } from "@mdevkit/plugin-sriov-nic";

/**
 * Plugins the mdevkit command knows without being told. `mdevkit new-plugin` adds its
 * import above and its entry above the marker line.
 */
export const BUILTIN_PLUGINS: readonly VendorPlugin[] = [
  mttyPlugin,
  accelPlugin,
  gvtgPlugin,
  sriovNicPlugin,
  // mdevkit new-plugin: entries above this line
];
