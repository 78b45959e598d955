import { registerMatrix } from "../registry.js";

// The full cross-plugin matrix: `npm run conformance` at the repository root, narrowed
// with MDEVKIT_PLUGINS=mtty (comma-separated registry names). Not part of `npm test`:
// every plugin already runs its own suite there, from its test/conformance.test.ts.
registerMatrix();
