import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { describe } from "vitest";
import { gvtgConformanceOptions } from "../src/conformance-options.js";
import { gvtgPlugin } from "../src/index.js";

// The matrix: both dirty methods, with PRE_COPY and STOP_COPY only.
for (const method of ["iommu-pinned", "vendor-bitmap"] as const) {
  for (const preCopy of [true, false]) {
    describe(`${method}, ${preCopy ? "PRE_COPY" : "STOP_COPY only"}`, () => {
      describeVendorDriverConformance(gvtgPlugin, gvtgConformanceOptions(method, preCopy));
    });
  }
}
