import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { mttyConformanceOptions } from "../src/conformance-options.js";
import { mttyPlugin } from "../src/index.js";

// The one place mtty's conformance suite runs, exactly as a third-party plugin runs it.
describeVendorDriverConformance(mttyPlugin, mttyConformanceOptions);
