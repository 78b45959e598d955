/**
 * `mdevkit new-plugin`'s machinery: name rules, finding the monorepo root, and filling
 * the plugin template.
 * @module
 */
export {
  MAX_PLUGIN_NAME_LENGTH,
  type PluginNames,
  pluginNames,
} from "./plugin-name.js";
export { findRepoRoot, isWorkspaceFolder, type RepoRoot } from "./repo-root.js";
export {
  fillPlaceholders,
  PLUGIN_TEMPLATE_DIR,
  type ScaffoldOptions,
  type ScaffoldResult,
  scaffoldPlugin,
} from "./scaffold-plugin.js";
