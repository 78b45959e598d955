/**
 * `mdevkit new-plugin`'s machinery: name rules, finding the monorepo root, filling the
 * plugin template (in a monorepo or standalone), and registering the plugin in the
 * repository's plugin lists.
 * @module
 */
export {
  MAX_PLUGIN_NAME_LENGTH,
  type PluginNames,
  pluginNames,
} from "./plugin-name.js";
export {
  addDependency,
  applyEdits,
  ENTRIES_MARKER,
  type FileEdit,
  hasPluginRegistries,
  insertEntry,
  insertImport,
  pluginRegistrationEdits,
  REGISTRY_FILES,
} from "./register-plugin.js";
export { findRepoRoot, isWorkspaceFolder, type RepoRoot } from "./repo-root.js";
export {
  fillPlaceholders,
  PLUGIN_TEMPLATE_DIR,
  type ScaffoldOptions,
  type ScaffoldResult,
  STANDALONE_TEMPLATE_DIR,
  STANDALONE_TOOL_VERSIONS,
  type StandaloneDependencies,
  scaffoldPlugin,
} from "./scaffold-plugin.js";
