import "reflect-metadata";
import { mttyPlugin } from "@mdevkit/plugin-mtty";
import { describeVendorDriverConformance } from "../../src/index.js";
import { mttyOptions } from "../fixtures/mtty-options.js";

describeVendorDriverConformance(mttyPlugin, mttyOptions);
