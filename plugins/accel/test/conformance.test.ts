import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { describe } from "vitest";
import { accelConformanceOptions } from "../src/conformance-options.js";
import { accelPlugin } from "../src/index.js";

// Both stop policies must conform: drain completes the jobs in flight, checkpoint aborts
// and rewinds them; neither may act once stopped. IOMMU tracking is the default method;
// DMA logging and the QAT personality run once each.
describe("stop policy drain, IOMMU tracking", () => {
  describeVendorDriverConformance(accelPlugin, accelConformanceOptions("drain"));
});
describe("stop policy checkpoint, IOMMU tracking", () => {
  describeVendorDriverConformance(accelPlugin, accelConformanceOptions("checkpoint"));
});
describe("stop policy drain, DMA logging", () => {
  describeVendorDriverConformance(
    accelPlugin,
    accelConformanceOptions("drain", "hisi-zip", "dma-logging"),
  );
});
describe("qat-gen4, stop policy checkpoint", () => {
  describeVendorDriverConformance(accelPlugin, accelConformanceOptions("checkpoint", "qat-gen4"));
});
