import { type DirtyTrackingMethod, MigFlags } from "@mdevkit/core";
import { describeVendorDriverConformance } from "../../src/index.js";
import { toyOptions } from "../fixtures/toy-options.js";
import { createToyPlugin } from "../fixtures/toy-plugin.js";

const { STOP_COPY: SC, P2P, PRE_COPY: PC } = MigFlags;

// Each flag set once, each dirty-tracking method at least once: every gate of the suite
// opens. The toy offers every method; the host's choice (the option) picks one per device.
const configs: [number, DirtyTrackingMethod][] = [
  [SC, "vendor-bitmap"],
  [SC | P2P, "iommu-pinned"],
  [SC | PC, "dma-logging"],
  [SC | P2P | PC, "vendor-bitmap"],
];

for (const [flags, tracking] of configs) {
  describeVendorDriverConformance(createToyPlugin({ flags }), {
    ...toyOptions,
    dirtyTracking: tracking,
    numRuns: 30,
  });
}
