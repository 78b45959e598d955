import "reflect-metadata";
import { describeVendorDriverConformance } from "@mdevkit/conformance";
import { selectedPlugins } from "../registry.js";

// One suite per plugin; MDEVKIT_PLUGINS=mtty,gvt-g narrows the matrix (Kysely's DIALECTS).
for (const [, entry] of selectedPlugins()) {
  describeVendorDriverConformance(entry.plugin, entry.options);
}
