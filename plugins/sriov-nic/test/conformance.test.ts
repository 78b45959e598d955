import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { sriovNicConformanceOptions } from "../src/conformance-options.js";
import { type SriovNicDriver, sriovNicPlugin } from "../src/index.js";

// Every group of the suite, on the small test profile, exactly as a third-party plugin runs it.
describeVendorDriverConformance<SriovNicDriver>(sriovNicPlugin, sriovNicConformanceOptions);
