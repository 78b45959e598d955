import "reflect-metadata";
import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { __camelName__ConformanceOptions } from "../src/conformance-options.js";
import { __camelName__Plugin } from "../src/index.js";

describeVendorDriverConformance(__camelName__Plugin, __camelName__ConformanceOptions);
